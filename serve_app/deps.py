"""What HTTP routes depend on: the replica's shared clients and the caller's identity.

The gateway installs one `Resources` per replica process at start (a module global: Serve hands the
replica a copy of the FastAPI app, so `app.state` set by the gateway would not be the one routes
see); routes get clients and the authenticated principal through FastAPI dependencies. Tokens are
per user (`Authorization: Bearer ust_...`), issued by an admin (bot, HTTP or `ustadh users token`),
and carry the role.

A replica remembers each token it authenticated (its principal: user, role, tier) for AUTH_CACHE_S
seconds, so a busy client costs no database query per request; a revoked token or a changed tier
therefore takes effect within that time (0 turns the cache off).
"""
from __future__ import annotations

import asyncio
from typing import Annotated, Any

from cachetools import TTLCache
from fastapi import Depends, HTTPException, Request
from psycopg_pool import AsyncConnectionPool

from actors.clients.ingestion import Ingestion
from actors.clients.wallet import Wallet
from core.app.accounts import Accounts
from core.app.reindex import Reindexing
from core.app.stats import Statistics
from core.app.top_ups import TopUps
from core.app.wallet_view import WalletView
from core.config import Settings
from core.db.pool import open_pool
from core.db.roles import Role
from core.user import Principal


class Resources:
    """Clients shared by the requests of one replica; the PostgreSQL pool opens on first use."""

    def __init__(self, settings: Settings, tutor: Any = None, retriever: Any = None) -> None:
        self.settings = settings
        self.retriever = retriever  # in the retrieval application: the replica's own RetrieverApp
        self.tutor = tutor  # the Tutor deployment's handle
        self.wallet = Wallet(settings)
        self.wallets = WalletView(self.wallet)
        self.ingestion = Ingestion()
        self.reindexing = Reindexing(self.ingestion)
        self._pool: AsyncConnectionPool | None = None
        self._lock = asyncio.Lock()
        self.principals: TTLCache[str, Principal] | None = (
            TTLCache(maxsize=10_000, ttl=settings.AUTH_CACHE_S) if settings.AUTH_CACHE_S > 0 else None)

    async def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            async with self._lock:  # only the first requests wait; the pool opens once
                if self._pool is None:
                    self._pool = await open_pool(self.settings.DATABASE_URL or "", Role.GATEWAY, max_size=10,
                                                 name="gateway")
        return self._pool

    async def accounts(self) -> Accounts:
        return Accounts(await self.pool(), self.wallets)

    async def top_ups(self) -> TopUps:
        return TopUps(await self.accounts(), self.wallet)

    async def statistics(self) -> Statistics:
        return Statistics(await self.pool())

    def forget_principals(self, user_id: int) -> None:
        """Drop this replica's remembered tokens of a user whose role or tokens just changed (other
        replicas forget them within AUTH_CACHE_S)."""
        if self.principals is not None:
            for token in [k for k, v in self.principals.items() if v.user_id == user_id]:
                self.principals.pop(token, None)


_installed: Resources | None = None


def install(shared: Resources | None) -> None:
    """The replica's resources (None: none, the API answers 503)."""
    global _installed
    _installed = shared


def current() -> Resources | None:
    """The replica's resources, None before the deployment has installed them."""
    return _installed


def installed() -> Resources:
    if _installed is None:
        raise HTTPException(503, "the API is starting")
    return _installed


async def resources() -> Resources:
    """The replica's resources, as a route dependency (async: FastAPI runs a plain function in a worker
    thread, a thread hop on every request)."""
    return installed()


async def principal(request: Request) -> Principal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "send 'Authorization: Bearer <token>'; an admin issues tokens with /token, "
                            "POST /admin/users/{id}/tokens or `ustadh users token`",
                            headers={"WWW-Authenticate": "Bearer"})
    shared, token = installed(), token.strip()
    remembered = shared.principals.get(token) if shared.principals is not None else None
    if remembered is not None:
        return remembered
    found = await (await shared.accounts()).authenticate(token)
    if found is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    if shared.principals is not None:
        shared.principals[token] = found
    return found


async def admin(request: Request) -> Principal:
    caller = await principal(request)
    if not caller.is_admin:
        raise HTTPException(403, "this route is for admins")
    return caller


Res = Annotated[Resources, Depends(resources)]
Caller = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(admin)]
