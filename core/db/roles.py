"""Which PostgreSQL role each kind of process connects as, and the connection string for it.

Migration 0006 creates the roles and grants each one writes only on the tables its owner writes
(`WRITES` below says the same, and a test holds the database to it), so "only the owning actor
writes its tables" is enforced by PostgreSQL, not left to convention: the gateway connecting as
`ustadh_gateway` gets "permission denied" on `UPDATE accounts`. A process takes the DATABASE_URL it
was given and swaps in its role's name, without the operator's password (libpq finds a role's
own in ~/.pgpass where the server asks for one). The operator's own account (the DATABASE_URL
user) runs migrations, `ustadh restore` and the CLI's one-off jobs.
"""
from __future__ import annotations

from enum import StrEnum

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class Role(StrEnum):
    WALLET = "ustadh_wallet"
    INGESTOR = "ustadh_ingestor"
    CRAWLER = "ustadh_crawler"
    TUTOR = "ustadh_tutor"
    GATEWAY = "ustadh_gateway"
    BOT = "ustadh_bot"
    RETRIEVER = "ustadh_retriever"
    SCHEDULER = "ustadh_scheduler"


_ACCOUNTS = ("users", "api_tokens")
WRITES: dict[Role, tuple[str, ...]] = {
    Role.WALLET: ("accounts", "reservations", "ledger_entries", "idempotency_keys"),
    Role.INGESTOR: ("documents", "chunks", "embedding_refs", "vector_collections", "ingestion_jobs",
                    "ingestion_audit"),
    Role.CRAWLER: ("sources", "crawls", "crawl_pages"),
    Role.TUTOR: ("quizzes", "quiz_questions", "quiz_attempts", "questions"),
    Role.GATEWAY: _ACCOUNTS,
    Role.BOT: _ACCOUNTS,
    Role.RETRIEVER: (),
    Role.SCHEDULER: (),
}


def role_url(database_url: str, role: Role) -> str:
    """`database_url` signed in as `role`: same server and database, no password of the operator's."""
    params = conninfo_to_dict(database_url)
    params.pop("password", None)
    params["user"] = role.value
    return make_conninfo(**{k: str(v) for k, v in params.items()})
