"""The `ustadh` command line: `up` runs the system, `migrate` applies the schema, `jobs` runs maintenance."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from loguru import logger

from core.config import Settings, SettingsError, load_settings
from core.db.migrate import MigrationError, migrate
from core.logs import setup_logging
from ops.backup import run_export, run_restore
from ops.datadir import DataDirBusy
from ops.embedded import EmbeddedError
from ops.eval import EVAL, run_eval
from ops.ingest import run_ingest, run_reindex
from ops.jobs import JOBS
from ops.ray_local import NoRunningSystem
from ops.sources import add_arguments as source_arguments
from ops.sources import run_sources, run_sync
from ops.users import add_arguments as user_arguments
from ops.users import run_users


def _up(settings: Settings, _: argparse.Namespace) -> int:
    from ops.supervisor import Supervisor

    Supervisor(settings).run()
    return 0


def _migrate(settings: Settings, _: argparse.Namespace) -> int:
    from ops.services import resolved_settings

    with resolved_settings(settings) as resolved:
        applied = migrate(resolved.DATABASE_URL or "")
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def _jobs(settings: Settings, args: argparse.Namespace) -> int:
    return JOBS[args.job][1](settings, args)


COMMANDS: dict[str, tuple[str, Callable[[Settings, argparse.Namespace], int]]] = {
    "up": ("run Ustadh (embedded PostgreSQL/Redis unless configured), Ctrl-C stops it", _up),
    "migrate": ("apply pending database migrations", _migrate),
    "jobs": ("run a maintenance job: " + ", ".join(JOBS), _jobs),
    "ingest": ("ingest files, directories or URLs through the running system, with a progress bar", run_ingest),
    "reindex": ("embed every chunk with the current embedding model, then switch readers to it", run_reindex),
    "sync": ("crawl a web source now through the running system, with a progress bar", run_sync),
    "sources": ("manage web sources through the running system: add, list, pause, resume", run_sources),
    "users": ("manage users and HTTP API tokens through the running system: add, list, role, tier, token, revoke",
              run_users),
    "export": ("write a disaster-recovery archive of everything a restore needs (rows, token hashes, vectors) "
               "to PATH, with a progress bar", run_export),
    "restore": ("load an export archive into an empty, stopped system (refuses a non-empty one, a damaged "
                "archive or a newer schema)", run_restore),
    "eval": ("measure retrieval on ../shared/eval (recall@k, MRR, nDCG@10) beside the BM25 baseline; "
             "--answers: the Tutor's answers (contains-gold, F1, citations, language, refusals, TTFT) beside the "
             "extractive path; --quizzes: the share of valid quiz items", run_eval),
}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="ustadh", description="Ustadh tutoring assistant")
    sub = root.add_subparsers(dest="command", required=True)
    for name, (help_text, _) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        if name == "jobs":
            jobs = command.add_subparsers(dest="job", required=True)
            for job, (job_help, _) in JOBS.items():
                jobs.add_parser(job, help=job_help)
        if name == "ingest":
            command.add_argument("paths", nargs="+", metavar="PATH|URL")
            command.add_argument("--visibility", choices=("public", "admin"), default="public")
        if name == "users":
            user_arguments(command)
        if name == "sources":
            source_arguments(command)
        if name in ("export", "restore"):
            command.add_argument("path", metavar="PATH")
        if name == "sync":
            command.add_argument("source")
        if name == "eval":
            command.add_argument("--eval-dir", default=str(EVAL))
            command.add_argument("--passages", type=int, default=None, help="first N passages per set")
            command.add_argument("--questions", type=int, default=None,
                                 help="first N questions per set (--answers: N per set, default 25; "
                                      "--quizzes: N items per language, default 10)")
            command.add_argument("--answers", action="store_true", help="evaluate the Tutor's answers")
            command.add_argument("--quizzes", action="store_true", help="evaluate the Tutor's quiz items")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"ustadh: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings, "cli" if args.command != "up" else "supervisor")
    try:
        return COMMANDS[args.command][1](settings, args)
    except (MigrationError, DataDirBusy, EmbeddedError, NoRunningSystem, FileNotFoundError) as exc:
        logger.error(str(exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
