"""Crediting a user's wallet, the admin's operation behind the bot's `/topup`, `POST /wallet/topup`
and `ustadh users topup`: the one home of its rules. The user must exist (named as admins name
users: '@username', '#id' or a Telegram id; AccountError 'unknown_user' otherwise); the amount is a
positive integer of micro-credits (`core.ledger.money.parse_credits` reads typed text; the
wallet's command refuses any other with InvalidAmount, before anything is written); the
surface's request id, namespaced here, makes a retried or redelivered request credit once; the
memo names who credited. The wallet's shard actor writes the ledger (through the `Ledger` port).
"""
from __future__ import annotations

from dataclasses import dataclass

from core.app.accounts import Accounts
from core.app.ports import Ledger
from core.ledger.model import Balance
from core.user import User


@dataclass(frozen=True)
class Credited:
    user: User
    balance: Balance  # after the top-up; `replayed` when this request id credited before


class TopUps:
    def __init__(self, accounts: Accounts, ledger: Ledger) -> None:
        self.accounts = accounts
        self.ledger = ledger

    async def credit(self, reference: str, amount: int, request_id: str, *, by: str, memo: str = "") -> Credited:
        """Credit `amount` micro-credits to the user `reference` names, once per `request_id`."""
        user = await self.accounts.find(reference)
        balance = await self.ledger.top_up(user.id, amount, f"topup:{request_id}", memo=memo or f"by {by}")
        return Credited(user, balance)
