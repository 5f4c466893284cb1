"""Ledger errors as the user reads them: each error code has a translated message."""
from __future__ import annotations

from bot.texts import CATALOG, Translator
from core.ledger.errors import LedgerError


def explain(t: Translator, error: LedgerError) -> str:
    key = f"err_{error.code}"
    return t(key) if key in CATALOG else t("err_generic")
