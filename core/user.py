"""A user as every layer sees it (who, in which language, with which role and tier) and the
choices those fields take; `core.db.users` stores them, `core.app.accounts` holds the rules."""
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


def language_from_telegram(language_code: str | None) -> str:
    """Telegram's IETF tag (e.g. 'ar-MR', 'fr', 'en-GB') to one of our languages; English otherwise."""
    base = (language_code or "").split("-")[0].lower()
    return base if base in LANGUAGES else "en"
