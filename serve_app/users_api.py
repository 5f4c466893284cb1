"""HTTP surface of users: the caller's own profile (`/me`), and for admins the user list, tier and
role changes and API tokens (`/admin/users`). Thin: each route calls `core.app.accounts`, which
holds the rules (the grant with a tier, token revocation with a role), and renders its result."""
from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from core.user import User
from serve_app import strict_json
from serve_app.deps import Admin, Caller, Res

router = strict_json.router(tags=["users"])
admin_router = strict_json.router(prefix="/admin/users", tags=["admin"])
UserId = Annotated[int, Path(gt=0, lt=2**63)]


class UserOut(BaseModel):
    id: int
    telegram_id: int | None
    username: str | None
    language: str
    role: str
    tier: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, telegram_id=user.telegram_id, username=user.username, language=user.language,
                   role=user.role, tier=user.tier)


class UsersOut(BaseModel):
    total: int
    users: list[UserOut]


class ProfileChange(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    language: str = Field(pattern="^(ar|fr|en)$")


class NewUser(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    username: str | None = Field(None, min_length=3, max_length=32)
    role: str = "learner"
    tier: str = "free"
    language: str = "en"


class UserChange(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    role: str | None = None
    tier: str | None = None


class TokenOut(BaseModel):
    user: UserOut
    token: str = Field(description="shown once; only its SHA-256 is stored")


class RevokedOut(BaseModel):
    revoked: int


@router.get("/me")
async def me(caller: Caller, res: Res) -> UserOut:
    return UserOut.of(await (await res.accounts()).get(caller.user_id))


@router.patch("/me")
async def change_me(change: ProfileChange, caller: Caller, res: Res) -> UserOut:
    return UserOut.of(await (await res.accounts()).change_language(caller.user_id, change.language))


@admin_router.get("")
async def list_users(_: Admin, res: Res, limit: Annotated[int, Query(ge=1, le=500)] = 30) -> UsersOut:
    """The number of users and the `limit` newest."""
    page = await (await res.accounts()).page(limit)
    return UsersOut(total=page.total, users=[UserOut.of(u) for u in page.users])


@admin_router.post("", status_code=201)
async def create_user(new: NewUser, _: Admin, res: Res) -> UserOut:
    """A user with no Telegram account yet (an HTTP client); the tier's monthly grant is claimed."""
    accounts = await res.accounts()
    return UserOut.of(await accounts.create(new.username, role=new.role, tier=new.tier, language=new.language))


@admin_router.patch("/{user_id}")
async def change_user(user_id: UserId, change: UserChange, _: Admin, res: Res) -> UserOut:
    """A tier change claims the new tier's grant; a role change revokes the user's tokens."""
    accounts = await res.accounts()
    updated = await accounts.get(user_id)
    if change.tier is not None:
        updated = await accounts.change_tier(user_id, change.tier)
    if change.role is not None:
        updated = await accounts.change_role(user_id, change.role)
        res.forget_principals(user_id)
    return UserOut.of(updated)


@admin_router.post("/{user_id}/tokens", status_code=201)
async def issue_token(user_id: UserId, _: Admin, res: Res) -> TokenOut:
    """A new token with the user's role; their earlier tokens are revoked."""
    user, token = await (await res.accounts()).issue_token(user_id)
    res.forget_principals(user_id)
    return TokenOut(user=UserOut.of(user), token=token)


@admin_router.delete("/{user_id}/tokens")
async def revoke_tokens(user_id: UserId, _: Admin, res: Res) -> RevokedOut:
    revoked = await (await res.accounts()).revoke_tokens(user_id)
    res.forget_principals(user_id)
    return RevokedOut(revoked=revoked)
