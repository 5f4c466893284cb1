"""Jobs the system runs by itself: a schedule's record of its runs (`core.schedules`, no Ray), and
the Scheduler actor's reconciliation catching a tampered balance with nobody running `ustadh jobs
reconcile`: in its /healthz detail, in `/metrics` and as an ERROR log line; the wallet shards'
expiry sweep shown beside it."""
from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from actors.clients.wallet import Wallet
from core.schedules import Result, Schedule
from tests.conftest import RaySystem, new_users
from tests.test_gateway import wait_for_log


async def test_a_schedule_records_its_runs_and_goes_on_after_a_failure() -> None:
    runs: list[int] = []

    async def job() -> Result:
        runs.append(len(runs) + 1)
        if len(runs) == 1:
            raise RuntimeError("database away")
        return Result(True, f"run {len(runs)}")

    schedule = Schedule("job", 0.05, job)
    assert schedule.status()["runs"] == 0 and schedule.status()["last_run"] is None
    failed = await schedule.run_once()
    assert not failed.ok and failed.summary == "RuntimeError: database away"
    assert schedule.status()["ok"] is False and schedule.status()["next_run"] > schedule.status()["last_run"]
    task = asyncio.create_task(schedule.forever())
    try:
        for _ in range(250):
            if schedule.runs >= 3:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
    status = schedule.status()
    assert status["runs"] >= 3 and status["ok"] is True and status["outcome"] == f"run {status['runs']}"


async def _reconcile_detail(ray_system: RaySystem, ok: bool, timeout: float = 60) -> dict[str, Any]:
    """The scheduler's reconcile schedule in /healthz once its last run's `ok` is `ok`."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        while time.monotonic() < deadline:
            components = (await http.get("/healthz")).json()["components"]
            scheduler = components["actor:scheduler"]
            assert scheduler["status"] == "up", scheduler
            schedule = scheduler["detail"]["schedules"]["reconcile"]
            if schedule["ok"] is ok:
                return {**schedule, "wallet": components["actor:wallet_ledger_0"]["detail"]}
            await asyncio.sleep(0.3)
    raise AssertionError(f"the scheduled reconciliation never reported ok={ok}")


async def _mismatches_metric(ray_system: RaySystem, wanted: Any, timeout: float = 90) -> float:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        while time.monotonic() < deadline:
            families = {f.name: f for f in text_string_to_metric_families((await http.get("/metrics")).text)}
            found = families.get("ray_ustadh_reconcile_mismatches")
            if found is not None and found.samples and wanted(found.samples[0].value):
                return found.samples[0].value
            await asyncio.sleep(1)
    raise AssertionError("ray_ustadh_reconcile_mismatches never showed the expected value")


async def test_a_scheduled_reconciliation_catches_a_tampered_balance(ray_system: RaySystem, pool: Any) -> None:
    settings = ray_system.settings
    [user] = await new_users(pool)
    await Wallet(settings).top_up(user, 1_000, f"schedule-test:{uuid.uuid4().hex}")
    sound = await _reconcile_detail(ray_system, ok=True)
    assert sound["every_s"] == settings.RECONCILE_EVERY_MIN * 60 and sound["runs"] >= 1
    assert sound["wallet"]["schedules"]["expire reservations"]["every_s"] == settings.WALLET_EXPIRY_SWEEP_S
    async with pool.connection() as conn:  # a balance changed behind the wallet's back
        await conn.execute("UPDATE accounts SET credits_posted = credits_posted + 7 WHERE user_id = %s", (user,))
    try:
        caught = await _reconcile_detail(ray_system, ok=False)
        assert "MISMATCH" in caught["outcome"]
        line = await wait_for_log(settings, lambda e: e["level"] == "ERROR" and e["component"] == "scheduler"
                                  and any(f"user {user}:" in problem for problem in e.get("first", [])), timeout=30)
        assert "mismatch" in line["msg"]
        assert await _mismatches_metric(ray_system, lambda v: v >= 1) >= 1
    finally:
        async with pool.connection() as conn:
            await conn.execute("UPDATE accounts SET credits_posted = credits_posted - 7 WHERE user_id = %s", (user,))
    await _reconcile_detail(ray_system, ok=True)
    assert await _mismatches_metric(ray_system, lambda v: v == 0) == 0
