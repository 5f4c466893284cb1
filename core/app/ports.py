"""The ports the use cases need, as Protocols: what the wallet ledger offers its callers.

`actors.wallet_client.Wallet` implements `Ledger` over the shard actors; a use case sees only this.
"""
from __future__ import annotations

from typing import Protocol

from core.ledger.model import Balance, Movement


class Ledger(Protocol):
    async def grant(self, user_id: int, amount: int, request_id: str, *, memo: str = "") -> Balance: ...

    async def top_up(self, user_id: int, amount: int, request_id: str, *, memo: str = "") -> Balance: ...

    async def balance(self, user_id: int) -> Balance: ...

    async def movements(self, user_id: int, *, limit: int = 50, before_id: int | None = None) -> list[Movement]: ...
