"""The wallet as people reach it: bot /balance, /history and admin commands, and the HTTP routes,
end to end over the loopback Bot API, the Serve gateway and the real WalletLedger actors."""
from __future__ import annotations

import itertools
import re
from typing import Any

import httpx
import pytest

from bot.texts import CATALOG
from core.ledger.tiers import TIERS
from tests.conftest import RaySystem
from tests.fakes.telegram import FakeTelegram
from tests.telegram_chat import ADMIN, Chat, bearer, issue_token, tg  # noqa: F401 - tg is a fixture

_ids = itertools.count(730_001)


async def internal_id(pool: Any, telegram_id: int) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT id FROM users WHERE telegram_id = %s", (telegram_id,))).fetchone()
    return row["id"]


def available(text: str) -> str:
    match = re.search(r"(?:Available|Disponible)\s*:\s*([\d.,\u202f]+)", text)
    assert match, text
    return match.group(1)


async def test_balance_claims_the_monthly_grant_once(tg: FakeTelegram) -> None:
    learner = Chat(tg, next(_ids))
    first = await learner.say("/balance")
    assert available(first) == "5.00"  # the free tier's monthly grant
    assert CATALOG["kind_grant"]["en"] in first
    assert available(await learner.say("/balance")) == "5.00"


async def test_french_learner_reads_french_numbers(tg: FakeTelegram) -> None:
    learner = Chat(tg, next(_ids), "fr")
    assert available(await learner.say("/balance")) == "5,00"


async def test_admin_top_up_is_credited_once_even_if_telegram_redelivers(tg: FakeTelegram) -> None:
    learner, admin = Chat(tg, next(_ids)), Chat(tg, ADMIN)
    await learner.say("/balance")
    update = tg.message_update(chat_id=ADMIN, user_id=ADMIN, text=f"/topup {learner.user_id} 2.5")
    assert await admin.reply() == CATALOG["topup_done"]["en"].format(amount="2.50", user=str(learner.user_id),
                                                                      available="7.50")
    tg.push_update({"message": update["message"]})  # the same message delivered again
    assert "7.50" in await admin.reply()
    assert available(await learner.say("/balance")) == "7.50"


@pytest.mark.parametrize("amount", ["-5", "0", "abc", "1.1234567", "99999999999999999"])
async def test_bad_top_up_amount_is_explained_and_changes_nothing(tg: FakeTelegram, amount: str) -> None:
    learner, admin = Chat(tg, next(_ids)), Chat(tg, ADMIN)
    await learner.say("/balance")
    assert await admin.say(f"/topup {learner.user_id} {amount}") == CATALOG["err_invalid_amount"]["en"]
    assert available(await learner.say("/balance")) == "5.00"


async def test_top_up_of_unknown_user_or_without_arguments(tg: FakeTelegram) -> None:
    admin = Chat(tg, ADMIN)
    assert await admin.say("/topup 123456789012 5") == CATALOG["user_not_found"]["en"].format(user="123456789012")
    assert await admin.say("/topup") == CATALOG["topup_usage"]["en"]


@pytest.mark.parametrize("command", ["/topup 1 5", "/tier 1 premium", "/token 1"])
async def test_admin_commands_are_refused_to_learners(tg: FakeTelegram, pool: Any, command: str) -> None:
    learner = Chat(tg, next(_ids), "ar")
    await learner.say("/balance")
    target = command.replace(" 1", f" {learner.user_id}", 1)
    assert await learner.say(target) == CATALOG["admin_only"]["ar"]
    assert await _available(pool, learner.user_id) == TIERS["free"].monthly_grant


async def _available(pool: Any, telegram_id: int) -> int | None:
    async with pool.connection() as conn:
        row = await (await conn.execute(
            "SELECT a.credits_posted - a.debits_posted - a.debits_pending AS available FROM accounts a "
            "JOIN users u ON u.id = a.user_id WHERE u.telegram_id = %s", (telegram_id,))).fetchone()
    return row["available"] if row else None


async def test_tier_change_sets_tier_and_grants_once(tg: FakeTelegram, pool: Any) -> None:
    learner, admin = Chat(tg, next(_ids)), Chat(tg, ADMIN)
    await learner.say("/start")
    done = await admin.say(f"/tier {learner.user_id} premium")
    assert done == CATALOG["tier_done"]["en"].format(user=str(learner.user_id), tier="premium", grant="250.00")
    await admin.say(f"/tier {learner.user_id} premium")
    assert await _available(pool, learner.user_id) == TIERS["premium"].monthly_grant
    assert await admin.say(f"/tier {learner.user_id} gold") == CATALOG["tier_usage"]["en"]


async def test_history_in_arabic_lists_movements(tg: FakeTelegram) -> None:
    learner = Chat(tg, next(_ids), "ar")
    await learner.say("/balance")
    history = await learner.say("/history")
    assert history.startswith(CATALOG["history_header"]["ar"])
    assert CATALOG["kind_grant"]["ar"] in history and "+5.00" in history


async def test_http_wallet_routes_check_tokens_and_roles(tg: FakeTelegram, ray_system: RaySystem,
                                                         pool: Any) -> None:
    admin_chat = Chat(tg, ADMIN)
    learner = Chat(tg, next(_ids))
    await learner.say("/balance")
    learner_token = await issue_token(admin_chat, learner.user_id)
    admin_token = await issue_token(admin_chat, ADMIN)
    assert learner_token != admin_token and learner_token.startswith("ust_")
    uid = await internal_id(pool, learner.user_id)
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=30) as http:
        assert (await http.get("/wallet/balance")).status_code == 401
        assert (await http.get("/wallet/balance", headers=bearer("ust_forged"))).status_code == 401
        mine = await http.get("/wallet/balance", headers=bearer(learner_token))
        assert mine.status_code == 200 and mine.json()["available"] == TIERS["free"].monthly_grant
        body = {"user_id": uid, "amount": 1_500_000}
        assert (await http.post("/wallet/topup", json=body, headers=bearer(learner_token))).status_code == 403
        headers = {**bearer(admin_token), "Idempotency-Key": f"k-{uid}"}
        first = await http.post("/wallet/topup", json=body, headers=headers)
        again = await http.post("/wallet/topup", json=body, headers=headers)
        assert first.status_code == again.status_code == 200
        assert again.json()["available"] == TIERS["free"].monthly_grant + 1_500_000
        for bad in ({"user_id": uid, "amount": 0}, {"user_id": uid, "amount": -3}, {"user_id": uid, "amount": 2**63},
                    {"user_id": "x", "amount": 5}, {"user_id": uid, "amount": 5}):
            response = await http.post("/wallet/topup", json=bad, headers=bearer(admin_token))
            assert response.status_code == 422, (bad, response.text)
        unknown = await http.post("/wallet/topup", json={"user_id": 2**62, "amount": 5, "request_id": "u1"},
                                  headers=bearer(admin_token))
        assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_user"
        pending = await http.get("/wallet/reservations", params={"status": "pending"}, headers=bearer(learner_token))
        assert pending.status_code == 200 and pending.json() == {"reservations": []}
        assert (await http.get("/wallet/reservations", params={"status": "bogus"},
                               headers=bearer(learner_token))).status_code == 422
        other = await http.get("/wallet/balance", params={"user_id": uid}, headers=bearer(admin_token))
        assert other.json()["user_id"] == uid

