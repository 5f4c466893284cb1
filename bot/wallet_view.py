"""How a wallet looks in a chat: balance lines and movements, amounts in the user's number format."""
from __future__ import annotations

from bot.texts import Translator
from core.ledger.model import Balance, Movement
from core.ledger.money import format_credits


def balance_text(t: Translator, balance: Balance) -> str:
    fmt = lambda micro: format_credits(micro, t.language)  # noqa: E731
    return t("balance", available=fmt(balance.available), posted=fmt(balance.posted), pending=fmt(balance.pending))


def movement_line(t: Translator, movement: Movement) -> str:
    effect = movement.credits - movement.debits - movement.pending_delta  # change of the available amount
    amount = ("+" if effect > 0 else "") + format_credits(effect, t.language)
    return t("movement", date=movement.created_at.strftime("%Y-%m-%d %H:%M"), kind=t.plain(f"kind_{movement.kind}"),
             amount=f"\u2066{amount}\u2069")  # isolate the number so it reads left-to-right inside Arabic


def history_text(t: Translator, movements: list[Movement]) -> str:
    if not movements:
        return t("history_empty")
    return "\n".join([t("history_header"), *(movement_line(t, m) for m in movements)])
