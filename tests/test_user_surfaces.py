"""Users and wallets through every surface (bot, HTTP, CLI) over one application layer
(`core.app`): the same figures and rows whichever surface acted, admin operations refused to
learners, and an operator with no Telegram bootstrapping an admin from the CLI."""
from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from psycopg.rows import dict_row

from bot.texts import CATALOG
from core.config import Settings
from core.ledger.tiers import TIERS
from ops.cli import main
from serve_app.deps import admin
from serve_app.gateway import ROUTERS
from tests.conftest import RaySystem
from tests.fakes.telegram import FakeTelegram
from tests.telegram_chat import ADMIN, Chat, bearer, issue_token, tg  # noqa: F401 - tg is a fixture
from tests.test_wallet_surfaces import available, internal_id

_ids = itertools.count(760_001)


async def _ledger_rows(pool: Any, user_id: int) -> list[tuple[Any, ...]]:
    """The user's ledger entries as surface-independent tuples (the request id without the user id)."""
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            "SELECT kind, credits, debits, memo, request_id FROM ledger_entries WHERE user_id = %s ORDER BY id",
            (user_id,))).fetchall()
    return [(r["kind"], r["credits"], r["debits"], r["memo"], r["request_id"].replace(f":{user_id}:", ":U:"))
            for r in rows]


async def _user_row(pool: Any, user_id: int) -> tuple[str, str, str]:
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT role, tier, language FROM users WHERE id = %s", (user_id,))).fetchone()
    return row["role"], row["tier"], row["language"]


async def test_bot_and_http_show_one_balance_with_the_grant_whichever_asks_first(
        tg: FakeTelegram, ray_system: RaySystem, pool: Any) -> None:
    admin = Chat(tg, ADMIN)
    learner = Chat(tg, next(_ids))
    await learner.say("/start")
    token = await issue_token(admin, learner.user_id)
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        over_http = (await http.get("/wallet/balance", headers=bearer(token))).json()
    assert over_http["available"] == TIERS["free"].monthly_grant  # HTTP first: the grant is claimed there too
    assert available(await learner.say("/balance")) == "5.00"
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        history = (await http.get("/wallet/history", headers=bearer(token))).json()["movements"]
    assert [(m["kind"], m["credits"]) for m in history] == [("grant", TIERS["free"].monthly_grant)]


async def _two_learners(tg: FakeTelegram, pool: Any) -> tuple[Chat, Chat, str, int, int]:
    """The admin's chat, the chat of a learner an admin changes by bot, the admin's API token, and
    the ids of that learner and of another one changed over HTTP."""
    admin = Chat(tg, ADMIN)
    by_bot, by_http = Chat(tg, next(_ids)), Chat(tg, next(_ids))
    for learner in (by_bot, by_http):
        await learner.say("/start")
    admin_token = await issue_token(admin, ADMIN)
    return admin, by_bot, admin_token, await internal_id(pool, by_bot.user_id), await internal_id(pool, by_http.user_id)


async def test_a_tier_change_by_bot_and_by_http_leaves_identical_rows(
        tg: FakeTelegram, ray_system: RaySystem, pool: Any) -> None:
    admin, by_bot, admin_token, bot_id, http_id = await _two_learners(tg, pool)
    await admin.say(f"/tier {by_bot.user_id} standard")
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        changed = await http.patch(f"/admin/users/{http_id}", json={"tier": "standard"}, headers=bearer(admin_token))
        assert changed.status_code == 200 and changed.json()["tier"] == "standard", changed.text
        again = await http.patch(f"/admin/users/{http_id}", json={"tier": "standard"}, headers=bearer(admin_token))
        assert again.status_code == 200
        bad = await http.patch(f"/admin/users/{http_id}", json={"tier": "gold"}, headers=bearer(admin_token))
        assert bad.status_code == 422 and bad.json()["error"] == "bad_tier"
        missing = await http.patch(f"/admin/users/{2**62}", json={"tier": "free"}, headers=bearer(admin_token))
        assert missing.status_code == 404
    assert await _user_row(pool, bot_id) == await _user_row(pool, http_id) == ("learner", "standard", "en")
    rows = await _ledger_rows(pool, bot_id)
    assert rows == await _ledger_rows(pool, http_id)
    assert [r[1] for r in rows] == [TIERS["standard"].monthly_grant]  # neither surface granted twice


async def test_a_top_up_by_bot_and_by_http_goes_through_one_rule(
        tg: FakeTelegram, ray_system: RaySystem, pool: Any) -> None:
    admin, by_bot, admin_token, bot_id, http_id = await _two_learners(tg, pool)
    before = await _ledger_rows(pool, bot_id)
    assert await admin.say(f"/topup #{2**62} 5") == CATALOG["user_not_found"]["en"].format(user=f"#{2**62}")
    assert await admin.say(f"/topup {by_bot.user_id} 0") != CATALOG["topup_done"]["en"]  # refused, explained
    assert await _ledger_rows(pool, bot_id) == before
    await admin.say(f"/topup {by_bot.user_id} 7.25")
    body = {"user_id": http_id, "amount": 7_250_000, "request_id": uuid.uuid4().hex}
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        missing = await http.post("/wallet/topup", json={**body, "user_id": 2**62}, headers=bearer(admin_token))
        assert missing.status_code == 404, missing.text
        done = await http.post("/wallet/topup", json=body, headers=bearer(admin_token))
        assert done.status_code == 200 and done.json()["replayed"] is False, done.text
    async with pool.connection() as conn:
        rows = [await (await conn.execute(
            "SELECT kind, credits, debits, request_id LIKE 'topup:%%' AS namespaced FROM ledger_entries "
            "WHERE user_id = %s AND kind = 'top_up'", (user,))).fetchall() for user in (bot_id, http_id)]
    assert rows[0] == rows[1] == [{"kind": "top_up", "credits": 7_250_000, "debits": 0, "namespaced": True}]


def _admin_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the API whose dependencies include the admin check."""
    def needs_admin(dependant: Dependant) -> bool:
        return dependant.call is admin or any(needs_admin(d) for d in dependant.dependencies)

    return sorted((method, route.path) for router in ROUTERS for route in router.routes
                  if isinstance(route, APIRoute) and needs_admin(route.dependant) for method in route.methods)


async def test_every_admin_route_of_the_api_refuses_a_learner_before_reading_anything(
        tg: FakeTelegram, ray_system: RaySystem, pool: Any) -> None:
    routes = _admin_routes()
    every = [(m, r.path) for router in ROUTERS for r in router.routes if isinstance(r, APIRoute) for m in r.methods]
    assert {route for route in every if route[1].startswith("/admin")} <= set(routes)  # the check finds them all
    assert ("POST", "/wallet/topup") in routes and ("POST", "/ingestion/jobs") in routes and len(routes) >= 19
    learner = Chat(tg, next(_ids))
    await learner.say("/start")
    token = await issue_token(Chat(tg, ADMIN), learner.user_id)
    params = {"user_id": "1", "name": "any-source", "job_id": str(uuid.uuid4())}
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        answers = {(method, path): (await http.request(method, path.format(**params), json={},
                                                       headers=bearer(token))).status_code
                   for method, path in routes}
    assert {route: status for route, status in answers.items() if status != 403} == {}


ADMIN_ROUTES = [("GET", "/admin/users", None), ("POST", "/admin/users", {"username": "nobody_here"}),
                ("PATCH", "/admin/users/{uid}", {"tier": "premium"}), ("POST", "/admin/users/{uid}/tokens", None),
                ("DELETE", "/admin/users/{uid}/tokens", None)]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_every_admin_user_route_is_refused_to_a_learner(
        tg: FakeTelegram, ray_system: RaySystem, pool: Any, method: str, path: str, body: Any) -> None:
    learner = Chat(tg, next(_ids))
    await learner.say("/start")
    token = await issue_token(Chat(tg, ADMIN), learner.user_id)
    uid = await internal_id(pool, learner.user_id)
    before = (await _user_row(pool, uid), await _ledger_rows(pool, uid))
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        refused = await http.request(method, path.format(uid=uid), json=body, headers=bearer(token))
        assert refused.status_code == 403, refused.text
        assert (await http.get("/me", headers=bearer(token))).status_code == 200  # the token still works
    assert (await _user_row(pool, uid), await _ledger_rows(pool, uid)) == before


async def test_me_shows_and_changes_the_callers_language_as_the_bot_sees_it(
        tg: FakeTelegram, ray_system: RaySystem, pool: Any) -> None:
    learner = Chat(tg, next(_ids))
    await learner.say("/start")
    token = await issue_token(Chat(tg, ADMIN), learner.user_id)
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        me = (await http.get("/me", headers=bearer(token))).json()
        assert me["telegram_id"] == learner.user_id and me["role"] == "learner" and me["language"] == "en"
        assert (await http.patch("/me", json={"language": "xx"}, headers=bearer(token))).status_code == 422
        changed = await http.patch("/me", json={"language": "ar"}, headers=bearer(token))
        assert changed.status_code == 200 and changed.json()["language"] == "ar"
    assert (await learner.say("/balance")).startswith(CATALOG["balance"]["ar"].split("{")[0])  # now in Arabic


async def test_a_role_change_over_http_revokes_the_users_tokens(
        tg: FakeTelegram, ray_system: RaySystem, pool: Any) -> None:
    admin = Chat(tg, ADMIN)
    learner = Chat(tg, next(_ids))
    await learner.say("/start")
    admin_token, token = await issue_token(admin, ADMIN), await issue_token(admin, learner.user_id)
    uid = await internal_id(pool, learner.user_id)
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        assert (await http.get("/me", headers=bearer(token))).status_code == 200
        promoted = await http.patch(f"/admin/users/{uid}", json={"role": "teacher"}, headers=bearer(admin_token))
        assert promoted.status_code == 200 and promoted.json()["role"] == "teacher"
        assert (await http.get("/me", headers=bearer(token))).status_code == 401
        issued = await http.post(f"/admin/users/{uid}/tokens", headers=bearer(admin_token))
        assert issued.status_code == 201 and issued.json()["user"]["role"] == "teacher"
        fresh = issued.json()["token"]
        assert (await http.get("/me", headers=bearer(fresh))).json()["role"] == "teacher"
        revoked = await http.delete(f"/admin/users/{uid}/tokens", headers=bearer(admin_token))
        assert revoked.json() == {"revoked": 1}
        assert (await http.get("/me", headers=bearer(fresh))).status_code == 401


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["users", *argv])
    captured = capsys.readouterr()
    return status, captured.out.strip(), captured.err.strip()


def test_an_operator_without_telegram_bootstraps_an_admin_and_http_tokens_from_the_cli(
        cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    name = f"ops_{uuid.uuid4().hex[:10]}"
    status, out, _ = _cli(capsys, "add", name, "--role", "admin")
    assert status == 0 and f"@{name}\tadmin\tfree" in out, out
    assert _cli(capsys, "add", name)[0] == 1  # the username is taken: nothing created
    status, token, _ = _cli(capsys, "token", f"@{name}")
    assert status == 0 and token.startswith("ust_")

    async def as_the_new_admin() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{cli_env.HTTP_PORT}", timeout=30) as http:
            me = (await http.get("/me", headers=bearer(token))).json()
            created = await http.post("/admin/users", json={"username": f"{name}_l", "tier": "premium"},
                                      headers=bearer(token))
            assert created.status_code == 201, created.text
            learner = created.json()
            bad = await http.post("/admin/users", json={"username": f"{name}_x", "tier": "gold"}, headers=bearer(token))
            assert bad.status_code == 422 and bad.json()["error"] == "bad_tier", bad.text
            wallet = (await http.get("/wallet/balance", params={"user_id": learner["id"]},
                                     headers=bearer(token))).json()
            return me, learner, wallet

    me, learner, wallet = asyncio.run(as_the_new_admin())
    assert me["role"] == "admin" and me["telegram_id"] is None
    assert learner["tier"] == "premium" and wallet["available"] == TIERS["premium"].monthly_grant
    status, out, _ = _cli(capsys, "tier", f"#{learner['id']}", "standard")
    assert status == 0 and "\tstandard\t" in out
    status, out, _ = _cli(capsys, "list", "--limit", "5")
    assert status == 0 and f"@{name}_l" in out and f"@{name}_x" not in out  # the refused user was not created
    status, _, err = _cli(capsys, "tier", "@no_such_user_here", "free")
    assert status == 1 and "no user" in err
    with psycopg.connect(cli_env.DATABASE_URL or "", row_factory=dict_row) as conn:
        grants = conn.execute("SELECT credits FROM ledger_entries WHERE user_id = %s AND kind = 'grant' ORDER BY id",
                              (learner["id"],)).fetchall()
    assert [g["credits"] for g in grants] == [TIERS["premium"].monthly_grant, TIERS["standard"].monthly_grant]
    key = f"cli-{uuid.uuid4().hex}"
    status, out, _ = _cli(capsys, "topup", f"#{learner['id']}", "2,5", "--request-id", key)
    assert status == 0 and f"@{name}_l" in out and "replayed" not in out, out
    status, out, _ = _cli(capsys, "topup", f"#{learner['id']}", "2,5", "--request-id", key)
    assert status == 0 and "replayed" in out  # the same request id credits once
    assert _cli(capsys, "topup", f"#{learner['id']}", "-3")[0] == 1
    assert _cli(capsys, "topup", "@no_such_user_here", "3")[0] == 1
    with psycopg.connect(cli_env.DATABASE_URL or "", row_factory=dict_row) as conn:
        top_ups = conn.execute("SELECT credits, memo FROM ledger_entries WHERE user_id = %s AND kind = 'top_up'",
                               (learner["id"],)).fetchall()
    assert [(t["credits"], t["memo"]) for t in top_ups] == [(2_500_000, "by cli")]
