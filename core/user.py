"""A user as every layer sees it (who, in which language, with which role and tier), the choices
those fields take, and the `Principal` an HTTP API token speaks for; `core.db.users` and
`core.db.api_tokens` store them, `core.app.accounts` holds the rules."""
from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("ar", "fr", "en")
ROLES = ("learner", "teacher", "admin")
TIERS = ("free", "standard", "premium")


@dataclass(frozen=True)
class User:
    id: int
    telegram_id: int | None
    username: str | None
    first_name: str | None
    language: str
    role: str
    tier: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Principal:
    """Who an API token speaks for: its user, with the role and tier the user has now."""

    user_id: int
    role: str
    tier: str = "free"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def language_from_telegram(language_code: str | None) -> str:
    """Telegram's IETF tag (e.g. 'ar-MR', 'fr', 'en-GB') to one of our languages; English otherwise."""
    base = (language_code or "").split("-")[0].lower()
    return base if base in LANGUAGES else "en"
