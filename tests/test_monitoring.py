"""The monitoring files of `ops/monitoring/` against the tools that read them and the live system:
`promtool check config|rules` on the scrape config and the alert rules, `promtool check metrics` on
our own families of a live `/metrics`, and the Grafana dashboard's JSON (its shape as Grafana
loads it, every panel's PromQL parsed by promtool, every metric it names exported by the system).
The live test first drives what the new families count: an ingestion, the same new question to
`POST /retrieve` twice (embedding batches, retrieval stages, a query-embedding cache miss then hit),
and the bot actor polling a fake Bot API (a message whose reply meets a 429, a button press, a poll
answer). promtool comes with Debian's `prometheus` package; without it those checks are skipped."""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import ray
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from actors.clients.ingestion import Ingestion
from actors.clients.wallet import Wallet
from bot.actor import OPTIONS as BOT_OPTIONS
from bot.actor import TelegramBot
from core.db import api_tokens
from tests.conftest import RaySystem, new_users
from tests.corpus_texts import ENGLISH
from tests.fakes.telegram import FakeTelegram
from tests.telegram_chat import bearer
from tests.test_ingestion import wait_job

MONITORING = Path(__file__).resolve().parents[1] / "ops" / "monitoring"
DASHBOARD = MONITORING / "grafana-ustadh.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus)")
# Labels Ray puts on every metric an actor or deployment exports; they are Ray's, not ours.
RAY_LABELS = re.compile(r'(?:Component|NodeAddress|SessionName|Version|WorkerId|otel_scope_[a-z_]+)="[^"]*",?')
OURS = re.compile(r"^(?:# (?:HELP|TYPE) )?(?:ray_)?ustadh_")
METRIC = re.compile(r"\b((?:ray_)?ustadh_[a-z_]+?)(?:_bucket|_sum|_count)?\b")

# What Grafana needs to load a dashboard file (the fields of its dashboard model this file uses).
DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "uid", "schemaVersion", "panels", "templating", "time"],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "schemaVersion": {"type": "integer", "minimum": 30},
        "time": {"type": "object", "required": ["from", "to"]},
        "templating": {"type": "object", "required": ["list"]},
        "panels": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["id", "type", "title", "gridPos", "targets", "datasource"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "type": {"enum": ["timeseries", "stat", "table", "gauge", "bargauge"]},
                "gridPos": {"type": "object", "required": ["h", "w", "x", "y"], "properties": {
                    "w": {"type": "integer", "minimum": 1, "maximum": 24},
                    "x": {"type": "integer", "minimum": 0, "maximum": 23}}},
                "targets": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["refId", "expr"],
                    "properties": {"expr": {"type": "string", "minLength": 1}}}}}}}},
}


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL or "promtool", *args], input=stdin, capture_output=True, text=True, timeout=60)


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


@needs_promtool
def test_the_scrape_config_and_alert_rules_pass_promtool() -> None:
    for args in (("check", "config", str(MONITORING / "prometheus.yml")),
                 ("check", "rules", str(MONITORING / "alerts.yml"))):
        checked = promtool(*args)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = (MONITORING / "alerts.yml").read_text(encoding="utf-8")
    for alert in ("ReconcileMismatch", "BreakerOpen", "IngestionFailuresRising", "WalletCommitP99High",
                  "ComponentDown"):
        assert f"alert: Ustadh{alert}" in rules


@needs_promtool
def test_a_broken_rule_fails_promtool(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(x[5m])\n")
    assert promtool("check", "rules", str(broken)).returncode != 0  # the check above can fail


def test_the_grafana_dashboard_is_dashboard_json() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    jsonschema.validate(board, DASHBOARD_SCHEMA)
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)) and all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in board["panels"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**board, "panels": [{**board["panels"][0], "gridPos": {"h": 8}}]}, DASHBOARD_SCHEMA)


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:panel_{i}", "expr": expr}
                                                        for i, expr in enumerate(dashboard_exprs())]}]}
    path = tmp_path / "dashboard-rules.json"  # YAML is a superset of JSON
    path.write_text(json.dumps(rules))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def _retrieved_twice(ray_system: RaySystem, pool: Any) -> None:
    """A document indexed (or already there), then a question never asked before, asked twice."""
    client = Ingestion()
    job = await client.submit_file(ENGLISH.encode(), "lesson.txt", uri=f"monitoring-test:{uuid.uuid4().hex}")
    done = await wait_job(client, job["id"])
    assert done["state"] == "indexed" or done["error_code"] == "duplicate", done
    [user] = await new_users(pool)
    key = await api_tokens.issue(pool, user, "learner")
    question = f"how do plants use water {uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=60) as http:
        for _ in range(2):
            answer = await http.post("/retrieve", json={"query": question}, headers=bearer(key))
            assert answer.status_code == 200, answer.text


@asynccontextmanager
async def _bot_talked_to(ray_system: RaySystem) -> AsyncIterator[None]:
    """The bot actor polling a fake Bot API, after a /start (its reply refused once with 429), a
    press of a button it does not know and a poll answer; it keeps running inside the block."""
    async with FakeTelegram() as tg:
        settings = ray_system.settings.model_copy(update={"TELEGRAM_BOT_TOKEN": SecretStr(tg.token),
                                                          "TELEGRAM_API_BASE": tg.base_url})
        actor = ray.remote(**BOT_OPTIONS)(TelegramBot).remote(settings)
        try:
            assert await actor.start.remote() == "polling"
            tg.inject_429("sendMessage", retry_after=1)
            tg.message_update(chat_id=830001, user_id=830001, text="/start")
            await tg.wait_for("sendMessage", count=2, timeout=20)  # refused, then sent
            tg.callback_update(user_id=830001, chat_id=830001, data="no-such-button")
            await tg.wait_for("answerCallbackQuery", timeout=20)
            tg.poll_answer_update("no-such-poll", user_id=830001, option_ids=[0])
            yield
        finally:
            await actor.stop.remote()
            ray.kill(actor)


def _labels(text: str, family: str, *labels: str) -> set[tuple[str, ...]]:
    """The values of `labels` on the samples of `family` (a counter's `_total` samples only)."""
    return {tuple(s.labels[label] for label in labels) for f in text_string_to_metric_families(text)
            if f.name == family for s in f.samples
            if (f.type != "counter" or s.name.endswith("_total")) and all(label in s.labels for label in labels)}


# What `_retrieved_twice` and `_bot_talked_to` leave on /metrics: family -> its labels, values they must show.
TRAFFIC_SHOWS: dict[str, tuple[tuple[str, ...], set[tuple[str, ...]]]] = {
    "ray_ustadh_retrieval_stage_seconds": (("stage",), {(s,) for s in ("embed", "dense", "lexical", "fuse", "chunks")}),
    "ray_ustadh_retrieval_cache": (("cache", "outcome"), {("query-embedding", "miss"), ("query-embedding", "hit")}),
    "ray_ustadh_embedding_batch_texts": (("kind",), {("query",)}),
    "ray_ustadh_bot_updates": (("type",), {("message",), ("callback_query",), ("poll_answer",)}),
    "ray_ustadh_bot_handler_seconds": (("type",), {("message",), ("callback_query",), ("poll_answer",)}),
    "ray_ustadh_telegram_retry_after": (("method", "outcome"), {("sendMessage", "retried")}),
}


def _traffic_unseen(text: str) -> list[str]:
    """What TRAFFIC_SHOWS expects that this /metrics text does not show (yet)."""
    unseen = []
    for family, (labels, values) in TRAFFIC_SHOWS.items():
        if missing := values - _labels(text, family, *labels):
            unseen.append(f"{family} {sorted(missing)}")
    return unseen


async def _live_metrics(ray_system: RaySystem, wanted: set[str], timeout: float = 120,
                        unseen: Callable[[str], list[str]] = lambda text: []) -> str:
    """/metrics once every family in `wanted` is in it and `unseen` finds nothing missing from it (Ray
    exports actors' metrics every few seconds)."""
    deadline, text, missing = time.monotonic() + timeout, "", []
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        while time.monotonic() < deadline:
            await http.get("/healthz")
            text = (await http.get("/metrics")).text
            names = {f.name for f in text_string_to_metric_families(text)}
            missing = sorted(wanted - names) or unseen(text)
            if not missing:
                return text
            await asyncio.sleep(2)
    raise AssertionError(f"not exported: {missing}")


@needs_promtool
async def test_our_live_metrics_pass_promtool_and_feed_the_dashboard(ray_system: RaySystem, pool: Any) -> None:
    [user] = await new_users(pool)
    await Wallet(ray_system.settings).top_up(user, 1_000, f"monitoring-test:{uuid.uuid4().hex}")
    named = {m.group(1) for expr in dashboard_exprs() for m in METRIC.finditer(expr)}
    families = {name.removesuffix("_total") for name in named}  # the parser names a counter without _total
    always = {"ustadh_http_requests", "ustadh_component_up", "ray_ustadh_wallet_operations",
              "ray_ustadh_wallet_commit_seconds", "ray_ustadh_reconcile_mismatches"}
    driven = {*TRAFFIC_SHOWS, "ray_ustadh_embedding_batch_seconds", "ray_ustadh_embedding_queue_depth"}
    assert always | driven <= families
    await _retrieved_twice(ray_system, pool)
    async with _bot_talked_to(ray_system):
        text = await _live_metrics(ray_system, always | driven, unseen=_traffic_unseen)
    ours = "\n".join(RAY_LABELS.sub("", line).replace(",}", "}") for line in text.splitlines() if OURS.match(line))
    checked = promtool("check", "metrics", stdin=ours + "\n")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    exported = {f.name for f in text_string_to_metric_families(text)}
    # The rest appear once the thing they count has happened (an answer, an open breaker, an ingestion).
    later = {"ray_ustadh_answers", "ray_ustadh_breaker_open", "ray_ustadh_ingestion_jobs",
             "ray_ustadh_ingestion_chunks", "ray_ustadh_wallet_batch_commands", "ustadh_component_probe_seconds",
             "ustadh_http_request_seconds", "ray_ustadh_llm_first_token_seconds", "ray_ustadh_llm_tokens",
             "ray_ustadh_charged_microcredits"}
    assert families - exported <= later, sorted(families - exported - later)
