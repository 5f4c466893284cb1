"""Ustadh on a real two-node Ray cluster: a head and a worker node on this machine (each its own
raylet, the worker on 127.0.0.2), PostgreSQL and Redis servers, Milvus over its server protocol
(milvus-lite's server mode on loopback), `ustadh up` joining with RAY_ADDRESS; then the worker
node is killed under load and the system recovers on the head."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from ops.local_cluster import WORKER_IP, TwoNodeCluster
from tests.conftest import free_port, with_database
from tests.corpus_texts import ARABIC, ARABIC_2, ENGLISH, ENGLISH_2, FRENCH, FRENCH_2
from tests.test_up import UpProcess

BIN = Path(sys.executable).parent


def ray_json(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run([str(BIN / "ray"), *args, "--format=json"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout)


def ustadh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "ustadh"), *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def cluster(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], TwoNodeCluster]]:
    """A database of its own on the tests' PostgreSQL, a Redis database of its own, a Milvus server,
    the two-node cluster, and the environment of an `ustadh up` joining it; all stopped at the end."""
    name = f"ustadh_cluster_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    milvus_port = free_port()
    milvus = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "milvus"),
                               "--host", "127.0.0.1", "--port", str(milvus_port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    # A dead node is declared dead after 3 missed 1 s health checks (Ray's default: 5 of 3 s).
    nodes = TwoNodeCluster({**base, "RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3"},
                           Path("/tmp") / f"rayc-{uuid.uuid4().hex[:6]}", free_port)
    data_dir = Path("/tmp") / f"ustadh-cluster-{uuid.uuid4().hex[:8]}"
    data_dir.mkdir(mode=0o755)
    env = {**base, "DATA_DIR": str(data_dir), "HOME": str(tmp_path), "RAY_ADDRESS": nodes.address,
           "DATABASE_URL": with_database(database_url, name), "REDIS_URL": _other_redis_db(redis_url),
           "MILVUS_URI": f"http://127.0.0.1:{milvus_port}", "LOCAL_LLM": "off", "EXPORT_EVERY_H": "0",
           "SERVE_PROXY_LOCATION": "HeadOnly", "WALLET_SHARDS": "2", "HTTP_PORT": str(free_port()),
           "PYTHONUNBUFFERED": "1", "HEALTH_TIMEOUT_S": "3"}
    try:
        nodes.start()
        yield env, nodes
    finally:
        nodes.stop()
        milvus.kill()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _other_redis_db(url: str) -> str:
    """The tests' Redis server, another database number than the session's own."""
    if url.startswith("unix://"):
        return url.split("?")[0] + "?db=15"
    head, _, db = url.rpartition("/")
    return f"{head}/{14 if db == '15' else 15}"


def where(env: dict[str, str], nodes_of: TwoNodeCluster) -> dict[str, set[str]]:
    """node IP -> the class names of the live actors on it."""
    nodes = {n["node_id"]: n["node_ip"] for n in ray_json(env, "list", "nodes", "--address", nodes_of.dashboard)
             if n["state"] == "ALIVE"}
    placed: dict[str, set[str]] = {}
    for actor in ray_json(env, "list", "actors", "--address", nodes_of.dashboard, "--limit", "500"):
        if actor["state"] == "ALIVE" and actor["node_id"] in nodes:
            placed.setdefault(nodes[actor["node_id"]], set()).add(actor["class_name"])
    return placed


def test_ustadh_runs_across_two_nodes_and_survives_losing_the_worker(
        cluster: tuple[dict[str, str], TwoNodeCluster], tmp_path: Path) -> None:
    env, nodes = cluster
    system = UpProcess(env, tmp_path)
    try:
        system.wait_ready()
        base = f"http://127.0.0.1:{env['HTTP_PORT']}"
        placed = where(env, nodes)
        assert len(placed) == 2 and WORKER_IP in placed, placed  # actors and replicas on both nodes
        [head_ip] = set(placed) - {WORKER_IP}
        assert any(name.startswith("ServeReplica") for names in placed.values() for name in names)
        on_worker = placed[WORKER_IP]
        for name, text in (("a.txt", ARABIC), ("f.txt", FRENCH), ("e.txt", ENGLISH)):
            (tmp_path / name).write_text(text, encoding="utf-8")
        ingested = ustadh(env, "ingest", *(str(tmp_path / n) for n in ("a.txt", "f.txt", "e.txt")))
        assert ingested.returncode == 0, ingested.stdout + ingested.stderr
        assert ustadh(env, "users", "add", "cluster_learner").returncode == 0
        key = ustadh(env, "users", "token", "@cluster_learner").stdout.strip()
        assert ustadh(env, "users", "topup", "@cluster_learner", "50").returncode == 0
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, timeout=120) as http:
            answer = http.post("/chat/ask", json={"question": "Which pigment do chloroplasts contain?"},
                               headers=headers)
            assert answer.status_code == 200 and "event: done" in answer.text, answer.text[-500:]
            assert http.get("/healthz").status_code == 200
        admin = _user(env, "cluster_admin", "--role", "admin")
        payer = _user(env, "cluster_payer")
        jobs = _submit_jobs(base, admin["key"])
        load = TopUpLoad(base, admin["key"], payer["id"])
        load.start()
        time.sleep(2)  # top-ups are flowing
        assert nodes.kill_worker() > 0
        assert _wait_health(base, lambda code: code != 200, 90), "/healthz never reported the loss"
        deadline = time.monotonic() + 300
        after: dict[str, set[str]] = {}
        while time.monotonic() < deadline:  # everything that ran on the worker restarted on the head
            after = where(env, nodes)
            if set(after) == {head_ip} and on_worker - {"ProxyActor"} <= after[head_ip]:
                break
            time.sleep(3)
        assert set(after) == {head_ip} and on_worker - {"ProxyActor"} <= after[head_ip], (on_worker, after)
        assert _wait_health(base, lambda code: code == 200, 120), "/healthz never reported the recovery"
        load.join(300)
        assert load.done == load.count, (load.done, load.unclean)
        assert not load.unclean, load.unclean  # a request caught by the loss failed as a 5xx, or not at all
        _check_charged_once(env["DATABASE_URL"], payer["id"], load)
        _check_jobs_indexed_once(base, admin["key"], env["DATABASE_URL"], jobs)
        with httpx.Client(base_url=base, timeout=120) as http:
            again = http.post("/chat/ask", json={"question": "Which pigment do chloroplasts contain?"},
                              headers=headers)
            assert again.status_code == 200 and "event: done" in again.text, again.text[-500:]
        reconciled = ustadh(env, "jobs", "reconcile")
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    finally:
        system.ctrl_c()


def _user(env: dict[str, str], name: str, *options: str) -> dict[str, Any]:
    added = ustadh(env, "users", "add", name, *options)
    assert added.returncode == 0, added.stdout + added.stderr
    token = ustadh(env, "users", "token", f"@{name}")
    assert token.returncode == 0, token.stdout + token.stderr
    return {"id": int(added.stdout.split("\t")[0].lstrip("#")), "key": token.stdout.strip()}


def _submit_jobs(base: str, key: str) -> dict[str, str]:
    """Three ingestion jobs queued just before the loss: job id -> uri."""
    jobs = {}
    with httpx.Client(base_url=base, timeout=60) as http:
        for name, text in (("ar2.txt", ARABIC_2), ("fr2.txt", FRENCH_2), ("en2.txt", ENGLISH_2)):
            uri = f"cluster-test:{name}"
            made = http.post("/ingestion/jobs", files={"file": (name, text.encode(), "text/plain")},
                             data={"uri": uri}, headers={"Authorization": f"Bearer {key}"})
            assert made.status_code == 202, made.text
            jobs[made.json()["id"]] = uri
    return jobs


class TopUpLoad(threading.Thread):
    """An admin client topping up one wallet `count` times through the loss, each top-up retried
    under its own request id until it is answered 200 (as a client of the API is told to)."""

    def __init__(self, base: str, key: str, user_id: int, count: int = 40, amount: int = 1_000) -> None:
        super().__init__(daemon=True)
        self.base, self.key, self.user_id, self.count, self.amount = base, key, user_id, count, amount
        self.done = 0
        self.unclean: list[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + 280
        with httpx.Client(base_url=self.base, timeout=30) as http:
            for i in range(self.count):
                body = {"user_id": self.user_id, "amount": self.amount, "request_id": f"cluster-load-{i}"}
                while time.monotonic() < deadline:
                    try:
                        answer = http.post("/wallet/topup", json=body, headers={"Authorization": f"Bearer {self.key}"})
                    except httpx.HTTPError:
                        time.sleep(0.5)  # the connection failed: nothing to judge, try again
                        continue
                    if answer.status_code == 200:
                        self.done += 1
                        break
                    if answer.status_code < 500:
                        self.unclean.append(f"{answer.status_code} {answer.text[:200]}")
                    time.sleep(0.5)
                time.sleep(0.1)


def _check_charged_once(database_url: str, user_id: int, load: TopUpLoad) -> None:
    with psycopg.connect(database_url) as conn:
        count, total = conn.execute("SELECT count(*), coalesce(sum(credits), 0) FROM ledger_entries "
                                    "WHERE user_id = %s AND kind = 'top_up'", (user_id,)).fetchone() or (0, 0)
    assert (count, total) == (load.count, load.count * load.amount)


def _check_jobs_indexed_once(base: str, key: str, database_url: str, jobs: dict[str, str]) -> None:
    deadline = time.monotonic() + 240
    states: dict[str, str] = {}
    with httpx.Client(base_url=base, timeout=30) as http:
        while time.monotonic() < deadline:
            states = {job: http.get(f"/ingestion/jobs/{job}", headers={"Authorization": f"Bearer {key}"}).json()
                      .get("state", "?") for job in jobs}
            if all(state in ("indexed", "failed") for state in states.values()):
                break
            time.sleep(1)
    assert set(states.values()) == {"indexed"}, states
    with psycopg.connect(database_url) as conn:
        indexed = dict(conn.execute("SELECT job_id::text, count(*) FROM ingestion_audit WHERE to_state = 'indexed' "
                                    "AND job_id::text = ANY(%s) GROUP BY job_id", (list(jobs),)).fetchall())
        documents = dict(conn.execute("SELECT uri, count(*) FROM documents WHERE uri = ANY(%s) GROUP BY uri",
                                      (list(jobs.values()),)).fetchall())
    assert indexed == dict.fromkeys(jobs, 1), indexed  # each job indexed exactly once
    assert documents == dict.fromkeys(jobs.values(), 1), documents


def _wait_health(base: str, wanted: Callable[[int], bool], timeout: float) -> bool:
    """Whether /healthz answered as wanted within `timeout` (no answer counts as 0)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            code = httpx.get(f"{base}/healthz", timeout=10).status_code
        except httpx.HTTPError:
            code = 0
        if wanted(code):
            return True
        time.sleep(1)
    return False
