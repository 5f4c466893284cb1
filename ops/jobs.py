"""Maintenance jobs behind `ustadh jobs ...`: expiring reservations and reconciling the wallet.

`reconcile` only reads, so it runs straight against PostgreSQL (the running system's, or the
embedded one started for the command). `expire` writes the wallet tables, which only the shard
actors may do: it joins the running Ray cluster (RAY_ADDRESS, else the local one `ustadh up`
started) and asks every shard to sweep now. The shards also sweep by themselves every
WALLET_EXPIRY_SWEEP_S seconds, so this is for forcing a sweep, e.g. from cron or after an outage.
"""
from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from core.config import Settings
from core.ledger.reconcile import reconcile_database


def _reconcile(settings: Settings, _: argparse.Namespace) -> int:
    from ops.services import resolved_settings

    with resolved_settings(settings) as resolved:
        report = asyncio.run(reconcile_database(resolved.DATABASE_URL or ""))
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def expire_now(settings: Settings) -> int:
    """Ask every shard of the running system to expire its due reservations; how many expired."""
    from ops.ray_local import join_running_system

    join_running_system(settings)
    from actors.clients.wallet import Wallet

    return asyncio.run(Wallet(settings).expire_due())


def _expire(settings: Settings, _: argparse.Namespace) -> int:
    print(f"expired {expire_now(settings)} reservation(s)")
    return 0


JOBS: dict[str, tuple[str, Callable[[Settings, argparse.Namespace], int]]] = {
    "expire": ("expire due wallet reservations now, through the running system's shard actors", _expire),
    "reconcile": ("check wallet balances against the ledger; exit status 1 on any mismatch", _reconcile),
}
