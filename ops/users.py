"""`ustadh users add|list|role|tier|token|revoke|topup`: managing users from the command line, so an
operator with no Telegram can create the first admin and issue HTTP tokens.

Each subcommand joins the running system (the wallet's shard actors claim a tier's grant; nothing
else may write the ledger) and calls `core.app.accounts` (and `core.app.top_ups`), as the bot's
admin commands and the `/admin/users` and `/wallet/topup` routes do. A user is named as admins type them: '@username', '#id' or a Telegram id.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

from core.app.accounts import AccountError, Accounts
from core.app.top_ups import TopUps
from core.config import Settings
from core.db.pool import open_pool
from core.ledger.errors import LedgerError
from core.ledger.money import format_credits, parse_credits
from core.user import LANGUAGES, ROLES, TIERS, User


def add_arguments(command: argparse.ArgumentParser) -> None:
    actions = command.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="create a user (no Telegram account needed)")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="learner")
    add.add_argument("--tier", choices=TIERS, default="free")
    add.add_argument("--language", choices=LANGUAGES, default="en")
    listing = actions.add_parser("list", help="the number of users and the newest ones")
    listing.add_argument("--limit", type=int, default=30)
    for name, choices in (("role", ROLES), ("tier", TIERS)):
        change = actions.add_parser(name, help=f"change a user's {name}")
        change.add_argument("user", help="@username, #id or Telegram id")
        change.add_argument(name, choices=choices)
    for name, help_text in (("token", "issue an HTTP API token (printed once; earlier ones are revoked)"),
                            ("revoke", "revoke a user's HTTP API tokens")):
        actions.add_parser(name, help=help_text).add_argument("user", help="@username, #id or Telegram id")
    top_up = actions.add_parser("topup", help="credit a user's wallet")
    top_up.add_argument("user", help="@username, #id or Telegram id")
    top_up.add_argument("credits", help="credits, e.g. 10 or 2.5")
    top_up.add_argument("--request-id", default=None,
                        help="the same id again credits once (default: a new one each run)")


def line(user: User) -> str:
    name = f"@{user.username}" if user.username else "—"
    return f"#{user.id}\t{name}\t{user.role}\t{user.tier}\t{user.language}"


async def _act(accounts: Accounts, top_ups: TopUps, args: argparse.Namespace) -> str:
    if args.action == "topup":
        credited = await top_ups.credit(args.user, parse_credits(args.credits), f"cli:{args.request_id or uuid.uuid4()}",
                                        by="cli")
        replay = " (replayed: credited before)" if credited.balance.replayed else ""
        return f"{line(credited.user)}\tavailable {format_credits(credited.balance.available)}{replay}"
    if args.action == "add":
        return line(await accounts.create(args.username, role=args.role, tier=args.tier, language=args.language))
    if args.action == "list":
        page = await accounts.page(args.limit)
        return "\n".join([f"{page.total} user(s)"] + [line(u) for u in page.users])
    target = await accounts.find(args.user)
    if args.action == "role":
        return line(await accounts.change_role(target.id, args.role))
    if args.action == "tier":
        return line(await accounts.change_tier(target.id, args.tier))
    if args.action == "token":
        return (await accounts.issue_token(target.id))[1]
    return f"revoked {await accounts.revoke_tokens(target.id)} token(s)"


async def _run(database_url: str, settings: Settings, args: argparse.Namespace) -> str:
    from actors.clients.wallet import Wallet
    from core.app.wallet_view import WalletView

    pool = await open_pool(database_url, None, max_size=2, name="cli")
    wallet = Wallet(settings)
    accounts = Accounts(pool, WalletView(wallet))
    try:
        return await _act(accounts, TopUps(accounts, wallet), args)
    finally:
        await pool.close()


def run_users(settings: Settings, args: argparse.Namespace) -> int:
    from ops.ray_local import join_running_system
    from ops.services import resolved_settings

    join_running_system(settings)
    with resolved_settings(settings) as resolved:
        try:
            print(asyncio.run(_run(resolved.DATABASE_URL or "", resolved, args)))
        except (AccountError, LedgerError) as error:
            print(f"ustadh users: {error}", file=sys.stderr)
            return 1
    return 0
