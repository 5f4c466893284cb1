"""The monitoring files of `ops/monitoring/` against the tools that read them and the live system:
`promtool check config|rules` on the scrape config and the alert rules, `promtool check metrics` on
our own families of a live `/metrics`, and the Grafana dashboard's JSON (its shape as Grafana
loads it, every panel's PromQL parsed by promtool, every metric it names exported by the system).
promtool comes with Debian's `prometheus` package; without it those checks are skipped."""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.clients.wallet import Wallet
from tests.conftest import RaySystem, new_users

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


async def _live_metrics(ray_system: RaySystem, wanted: set[str], timeout: float = 120) -> str:
    """/metrics once every family in `wanted` is in it (Ray exports actors' metrics every few seconds)."""
    deadline, text, names = time.monotonic() + timeout, "", set()
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        while time.monotonic() < deadline:
            await http.get("/healthz")
            text = (await http.get("/metrics")).text
            names = {f.name for f in text_string_to_metric_families(text)}
            if wanted <= names:
                return text
            await asyncio.sleep(2)
    raise AssertionError(f"not exported: {sorted(wanted - names)}")


@needs_promtool
async def test_our_live_metrics_pass_promtool_and_feed_the_dashboard(ray_system: RaySystem, pool: Any) -> None:
    [user] = await new_users(pool)
    await Wallet(ray_system.settings).top_up(user, 1_000, f"monitoring-test:{uuid.uuid4().hex}")
    named = {m.group(1) for expr in dashboard_exprs() for m in METRIC.finditer(expr)}
    families = {name.removesuffix("_total") for name in named}  # the parser names a counter without _total
    always = {"ustadh_http_requests", "ustadh_component_up", "ray_ustadh_wallet_operations",
              "ray_ustadh_wallet_commit_seconds", "ray_ustadh_reconcile_mismatches"}
    assert always <= families
    text = await _live_metrics(ray_system, always)
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
