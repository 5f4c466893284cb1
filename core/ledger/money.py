"""Credits as people write and read them, converted exactly to and from integer micro-credits.

People type "12", "12.5" or "12,5" credits; the ledger stores 12_500_000 micro-credits. Parsing goes
through Decimal, so no amount is ever rounded: more than six decimals is an error, not a guess.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from core.ledger.errors import InvalidAmount
from core.ledger.tiers import MICRO

MAX_MICRO = 2**63 - 1
_NUMBER = re.compile(r"^\d{1,13}([.,]\d{1,6})?$")
_ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩٫", "0123456789.")


def parse_credits(text: str) -> int:
    """'12.5' (or '12,5', or Arabic-Indic digits) credits -> 12_500_000 micro-credits; positive only."""
    cleaned = text.strip().translate(_ARABIC_DIGITS).replace(",", ".")
    if not _NUMBER.match(cleaned):
        raise InvalidAmount(f"{text!r} is not an amount of credits (e.g. 10 or 2.5, at most 6 decimals)")
    try:
        micro = int(Decimal(cleaned) * MICRO)
    except InvalidOperation:
        raise InvalidAmount(f"{text!r} is not an amount of credits") from None
    if micro <= 0 or micro > MAX_MICRO:
        raise InvalidAmount(f"{text!r} must be more than 0 credits and at most {MAX_MICRO // MICRO:,}")
    return micro


def format_credits(micro: int, language: str = "en") -> str:
    """12_500_000 -> '12.50' ('12,50' in French); whole cents shown, finer fractions kept."""
    sign = "-" if micro < 0 else ""
    whole, fraction = divmod(abs(micro), MICRO)
    digits = f"{fraction:06d}".rstrip("0").ljust(2, "0")
    separator = "," if language == "fr" else "."
    return f"{sign}{whole:,}".replace(",", "\u202f" if language == "fr" else ",") + separator + digits
