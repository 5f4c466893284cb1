"""Managing users on every surface: a user's own language; for admins create, list, find, change
tier (with the new tier's grant) or role (revoking the user's API tokens), issue and revoke API tokens.

`core.db.users` and `core.db.api_tokens` write the rows; this is the one home of the rules around
them: a tier change claims the tier's monthly grant through `WalletView` (the grant is idempotent by
request id and every wallet view claims it again, so a grant that fails after the tier changed is
claimed by the user's next balance or question instead of being lost); a token carries the role
the user has now.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from core.app.errors import Refusal
from core.app.wallet_view import WalletView
from core.db import api_tokens, users
from core.user import LANGUAGES, ROLES, TIERS, Principal, User

_USERNAME = re.compile(r"^[A-Za-z0-9_]{3,32}$")


class AccountError(Refusal):
    """A request the rules refuse; `code` names it for the surfaces' translated messages."""


@dataclass(frozen=True)
class UserPage:
    total: int
    users: list[User]


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    chosen = value.strip().lower()
    if chosen not in allowed:
        raise AccountError(f"bad_{what}", f"{what} must be one of {', '.join(allowed)}, not {value[:32]!r}")
    return chosen


def _existing(user: User | None, user_id: int) -> User:
    if user is None:
        raise AccountError("unknown_user", f"no user #{user_id}")
    return user


class Accounts:
    def __init__(self, pool: AsyncConnectionPool, wallets: WalletView) -> None:
        self.pool = pool
        self.wallets = wallets

    async def create(self, username: str | None, *, role: str = "learner", tier: str = "free",
                     language: str = "en") -> User:
        if username is not None:
            if not _USERNAME.match(username):
                raise AccountError("bad_username", "a username is 3-32 letters, digits or _")
            if await users.find(self.pool, f"@{username}") is not None:
                raise AccountError("username_taken", f"@{username} is taken")
        created = await users.create(self.pool, username=username, language=_choice(language, LANGUAGES, "language"),
                                     role=_choice(role, ROLES, "role"), tier=_choice(tier, TIERS, "tier"))
        await self.wallets.claim_grant(created.id, created.tier)
        return created

    async def first_contact(self, telegram_id: int, *, username: str | None, first_name: str | None,
                            language_code: str | None, admin_ids: tuple[int, ...]) -> User:
        """The user behind a Telegram account, created on first contact in the account's language
        (English when we do not teach it); ADMIN_TELEGRAM_IDS are always admins."""
        return await users.upsert_from_telegram(self.pool, telegram_id, username=username, first_name=first_name,
                                                language_code=language_code, admin_ids=admin_ids)

    async def authenticate(self, token: str) -> Principal | None:
        """Who an API token speaks for (its user's role and tier now); None for an unknown or
        revoked one."""
        return await api_tokens.authenticate(self.pool, token)

    async def page(self, limit: int = 30) -> UserPage:
        total, latest = await users.recent(self.pool, limit)
        return UserPage(total, latest)

    async def find(self, reference: str) -> User:
        """A user by '@username', Telegram id or '#id' (AccountError 'unknown_user' otherwise)."""
        found = await users.find(self.pool, reference)
        if found is None:
            raise AccountError("unknown_user", f"no user {reference[:64]!r}")
        return found

    async def get(self, user_id: int) -> User:
        return _existing(await users.by_id(self.pool, user_id), user_id)

    async def change_tier(self, user_id: int, tier: str) -> User:
        """The user on `tier`, with its monthly grant claimed (LedgerError if the wallet refuses it)."""
        updated = _existing(await users.set_tier(self.pool, user_id, _choice(tier, TIERS, "tier")), user_id)
        await self.wallets.claim_grant(updated.id, updated.tier)
        return updated

    async def change_language(self, user_id: int, language: str) -> User:
        return _existing(await users.set_language(self.pool, user_id, _choice(language, LANGUAGES, "language")),
                         user_id)

    async def change_role(self, user_id: int, role: str) -> User:
        """The user with `role`; a change revokes their API tokens (`users.set_role`)."""
        return _existing(await users.set_role(self.pool, user_id, _choice(role, ROLES, "role")), user_id)

    async def issue_token(self, user_id: int) -> tuple[User, str]:
        """A new API token with the user's current role; their earlier tokens are revoked."""
        user = await self.get(user_id)
        return user, await api_tokens.issue(self.pool, user.id, user.role)

    async def revoke_tokens(self, user_id: int) -> int:
        await self.get(user_id)
        return await api_tokens.revoke(self.pool, user_id)
