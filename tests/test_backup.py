"""Disaster recovery (`core.backup`, `ustadh export` / `ustadh restore`): the archive's checks, the
rotation of scheduled exports, the Scheduler's own export, and the round trip from the tests'
running system into a fresh one started by `ustadh up`."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from actors.clients.ingestion import Ingestion
from actors.clients.wallet import Wallet
from core.backup.archive import (
    MANIFEST,
    Archive,
    ArchiveError,
    Collection,
    Manifest,
    pack_vectors,
    unpack_vectors,
    write,
)
from core.backup.export import prune, scheduled_path
from core.db import api_tokens
from core.db.migrate import latest_version
from ops import cli
from tests.conftest import RaySystem, free_port, new_users
from tests.corpus_texts import ARABIC, ENGLISH, FRENCH, eval_passages
from tests.telegram_chat import bearer
from tests.test_ingestion import wait_job
from tests.test_up import UpProcess

EVAL_QUESTIONS = Path(__file__).resolve().parents[2] / "shared" / "eval"


def small_archive(tmp_path: Path, schema_version: int = 1) -> Path:
    dump = tmp_path / "database.dump"
    dump.write_bytes(b"PGDMP" + bytes(range(256)) * 64)
    ids = ["c1", "c2"]
    metadata = [{"document_id": 1, "source_id": 0, "language": "ar", "visibility": "public"},
                {"document_id": 2, "source_id": 0, "language": "fr", "visibility": "admin"}]
    vectors = tmp_path / "v.npz"
    vectors.write_bytes(pack_vectors(ids, np.eye(2, 4, dtype=np.float32), metadata))
    manifest = Manifest(schema_version=schema_version, created_at="2026-12-08T00:00:00+00:00", tables={"users": 2},
                        collections=[Collection("e5_small_384", 4, 2, 0)])
    path = tmp_path / "export.tar"
    write(path, manifest, {"database.dump": dump, "vectors/e5_small_384.npz": vectors})
    return path


def test_an_archive_reads_back_whole_with_its_vectors(tmp_path: Path) -> None:
    archive = Archive(small_archive(tmp_path))
    assert archive.manifest.tables == {"users": 2}
    assert set(archive.manifest.files) == {"database.dump", "vectors/e5_small_384.npz"}
    ids, vectors, metadata = unpack_vectors(archive.read("vectors/e5_small_384.npz"))
    assert ids == ["c1", "c2"] and vectors.dtype == np.float32 and vectors.shape == (2, 4)
    assert metadata[1] == {"document_id": 2, "source_id": 0, "language": "fr", "visibility": "admin"}
    assert not (tmp_path / "export.tar.partial").exists()


@pytest.mark.parametrize("cut_in", ["database.dump", MANIFEST])
def test_a_truncated_archive_is_refused(tmp_path: Path, cut_in: str) -> None:
    path = small_archive(tmp_path)
    with tarfile.open(path) as tar:
        member = tar.getmember(cut_in)
    raw = path.read_bytes()
    path.write_bytes(raw[:member.offset_data + member.size // 2])
    with pytest.raises(ArchiveError, match="truncated"):
        Archive(path)


def test_a_damaged_member_or_a_foreign_manifest_is_refused(tmp_path: Path) -> None:
    path = small_archive(tmp_path)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"PGDMP") + 100
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ArchiveError, match="database.dump is damaged"):
        Archive(path)
    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as tar:
        manifest = tmp_path / MANIFEST
        manifest.write_text(json.dumps({"format": "something-else"}))
        tar.add(manifest, arcname=MANIFEST)
    with pytest.raises(ArchiveError, match="not an Ustadh export"):
        Archive(other)


def test_an_archive_of_a_newer_schema_is_refused_before_anything_starts(tmp_path: Path) -> None:
    newer = small_archive(tmp_path, schema_version=latest_version() + 1)
    data_dir = Path("/tmp") / f"ustadh-drr-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "DATABASE_URL", "REDIS_URL"))}
    refused = ustadh({**env, "DATA_DIR": str(data_dir), "HOME": str(tmp_path)}, "restore", str(newer))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"schema version {latest_version() + 1}, newer than this version's" in refused.stderr, refused.stderr
    assert not (data_dir / "postgres").exists()  # no database was started or made


def test_rotation_keeps_the_newest_scheduled_exports(tmp_path: Path) -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    made = [scheduled_path(tmp_path, start + timedelta(hours=h)) for h in range(5)]
    for path in made:
        path.write_bytes(b"x")
    (tmp_path / "mine.tar").write_bytes(b"not a scheduled export")
    assert prune(tmp_path, 2) == made[:3]
    assert sorted(tmp_path.iterdir()) == sorted([*made[3:], tmp_path / "mine.tar"])


def test_the_scheduler_exports_by_itself_and_says_so_in_healthz(ray_system: RaySystem) -> None:
    deadline = time.monotonic() + 200  # the first run is EXPORT_EVERY_H (72 s here) after the start
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        detail = httpx.get(f"{ray_system.base_url}/healthz", timeout=10).json()["components"]["actor:scheduler"]
        status = detail["detail"]["schedules"]["export"]
        if status["runs"]:
            break
        time.sleep(1)
    assert status["ok"] is True, status
    archives = sorted(ray_system.settings.exports_dir.glob("ustadh-export-*.tar"))
    assert 1 <= len(archives) <= ray_system.settings.EXPORT_KEEP
    assert archives[-1].name in status["outcome"]
    manifest = Archive(archives[-1]).manifest
    assert {"users", "api_tokens", "accounts", "ledger_entries", "chunks", "embedding_refs", "sources",
            "quiz_attempts"} <= set(manifest.tables)
    assert manifest.schema_version == latest_version()


# ------------------------------------------------------------------ round trip


def material() -> tuple[list[tuple[str, str]], list[str]]:
    """(name, text) to ingest and questions to retrieve for: eval passages and their first questions
    when ../shared/eval is here, else the tests' own texts with questions written for them."""
    passages = [p for lang in ("ar", "fr", "en") for p in eval_passages(lang, 3)]
    if not passages:
        return ([("drr-ar.txt", ARABIC), ("drr-fr.txt", FRENCH), ("drr-en.txt", ENGLISH)],
                ["كيف يمكن تنقية الماء قبل شربه؟", "Qu'a proclamé l'Assemblée nationale en 1789 ?",
                 "Which pigment do chloroplasts contain?", "Comment les plantes fabriquent-elles le sucre ?"])
    wanted = {p["id"] for p in passages}
    questions: dict[str, str] = {}
    for set_name in ("xquad", "piaf"):
        for line in (EVAL_QUESTIONS / set_name / "questions.jsonl").read_text("utf-8").splitlines():
            row = json.loads(line)
            if row["passage_id"] in wanted:
                questions.setdefault(row["passage_id"], row["question"])
    return [(f"{p['id']}.txt", p["text"]) for p in passages], list(questions.values())


async def retrieved(base_url: str, key: str, questions: list[str]) -> list[list[tuple[str, str, float]]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        results = []
        for question in questions:
            answer = await http.post("/retrieve", json={"query": question, "k": 5}, headers=bearer(key))
            assert answer.status_code == 200, answer.text
            results.append([(h["title"], h["text"], round(h["score"], 4)) for h in answer.json()["hits"]])
    return results


async def balances(base_url: str, keys: list[str]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        return [(await http.get("/wallet/balance", headers=bearer(key))).json() for key in keys]


@pytest.fixture
def fresh_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a newcomer's system in a new DATA_DIR: embedded stores, no local model."""
    data_dir = Path("/tmp") / f"ustadh-drr-{uuid.uuid4().hex[:8]}"
    data_dir.mkdir(mode=0o755)
    inherited = ("RAY_", "DATABASE_URL", "REDIS_URL", "WALLET_SHARDS")  # `cli_env` names the tests' system
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    env.update(DATA_DIR=str(data_dir), HOME=str(tmp_path), HTTP_PORT=str(free_port()),
               DASHBOARD_PORT=str(free_port()), HAPROXY_STATS_PORT=str(free_port()),
               HAPROXY_METRICS_PORT=str(free_port()), SERVE_FALLBACK_PORT=str(free_port()), PYTHONUNBUFFERED="1",
               LOCAL_LLM="off", EXPORT_EVERY_H="0")
    yield env


def ustadh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("ustadh")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


async def test_export_then_restore_into_a_fresh_system_gives_the_same_answers_and_balances(
        ray_system: RaySystem, cli_env: Any, pool: Any, fresh_env: dict[str, str], tmp_path: Path) -> None:
    texts, questions = material()
    client = Ingestion()
    for name, text in texts:
        done = await wait_job(client, (await client.submit_file(text.encode(), name, uri=f"drr:{name}"))["id"])
        assert done["state"] == "indexed" or done["error_code"] == "duplicate", done
    users = await new_users(pool, 2)
    keys = [await api_tokens.issue(pool, user, "learner") for user in users]
    wallet = Wallet(ray_system.settings)
    await wallet.top_up(users[0], 5_000_000, f"drr-top-{uuid.uuid4().hex}", memo="round trip")
    await wallet.top_up(users[1], 1_000_000, f"drr-top-{uuid.uuid4().hex}")
    held = await wallet.reserve(users[1], 300_000, f"drr-res-{uuid.uuid4().hex}", purpose="round trip")
    await wallet.settle(held, 200_000, f"drr-set-{uuid.uuid4().hex}")
    await wallet.reserve(users[1], 100_000, f"drr-open-{uuid.uuid4().hex}", purpose="still pending")
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=120) as http:
        made = (await http.post("/quizzes/generate", json={"topic": "photosynthesis", "n": 2},
                                headers=bearer(keys[0]))).json()
        question = made["questions"][0]
        answered = await http.post(f"/quizzes/{made['quiz_id']}/answers",
                                   json={"question_id": question["id"], "option": question["correct"]},
                                   headers=bearer(keys[0]))
        assert answered.status_code == 200, answered.text
    before = await retrieved(ray_system.base_url, keys[0], questions)
    assert all(before), before
    money = await balances(ray_system.base_url, keys)

    archive = tmp_path / "ustadh.tar"
    assert await asyncio.to_thread(cli.main, ["export", str(archive)]) == 0  # it runs its own event loop
    manifest = Archive(archive).manifest
    assert manifest.tables["quiz_attempts"] >= 1 and manifest.tables["api_tokens"] >= 2
    assert sum(c.vectors for c in manifest.collections) > 0

    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    elsewhere = {**fresh_env, "DATA_DIR": str(Path(fresh_env["DATA_DIR"]) / "other")}
    refused = ustadh(elsewhere, "restore", str(truncated))
    assert refused.returncode == 1 and "nothing changed" in refused.stderr, refused.stdout + refused.stderr
    assert not (Path(elsewhere["DATA_DIR"]) / "postgres").exists()  # not even a database was made

    restored = ustadh(fresh_env, "restore", str(archive))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "restored" in restored.stdout and "restore database" in restored.stderr  # the progress bar

    system = UpProcess(fresh_env, tmp_path)
    try:
        system.wait_ready()
        base = f"http://127.0.0.1:{fresh_env['HTTP_PORT']}"
        assert await retrieved(base, keys[0], questions) == before  # the restored token hashes let them in
        assert await balances(base, keys) == money
        reconciled = ustadh(fresh_env, "jobs", "reconcile")
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    finally:
        assert system.ctrl_c() == 0, "".join(system.lines[-40:])
    again = ustadh(fresh_env, "restore", str(archive))
    assert again.returncode == 1 and "not empty" in again.stderr, again.stdout + again.stderr
