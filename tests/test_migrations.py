"""Migrations: ordered, transactional, recorded once; a broken file rolls back and is named."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from core.config import Settings
from core.db.migrate import MIGRATIONS_DIR, MigrationError, migrate
from tests.conftest import with_database

PRODUCT_TABLES = {"users", "accounts", "ledger_entries", "reservations", "idempotency_keys", "documents",
                  "ingestion_jobs", "ingestion_audit", "chunks", "embedding_refs", "sources", "quizzes",
                  "quiz_questions", "quiz_attempts"}


@pytest.fixture
def fresh_database(settings: Settings) -> Iterator[str]:
    name = f"mig_{uuid.uuid4().hex[:10]}"
    admin = settings.DATABASE_URL or ""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_database(admin, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def test_applying_twice_is_a_no_op(fresh_database: str) -> None:
    first = migrate(fresh_database)
    assert first == sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert tables(fresh_database) >= PRODUCT_TABLES
    assert migrate(fresh_database) == []
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(first)


def test_broken_migration_rolls_back_and_names_the_file(fresh_database: str, tmp_path: Path) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id INT);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half (id INT);\nCREATE TABLE oops (id NOSUCHTYPE);")
    with pytest.raises(MigrationError) as caught:
        migrate(fresh_database, tmp_path)
    assert caught.value.filename == "0002_broken.sql"
    assert "0002_broken.sql" in str(caught.value)
    assert {"good", "schema_migrations"} <= tables(fresh_database)
    assert "half" not in tables(fresh_database)
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half (id INT);")
    assert migrate(fresh_database, tmp_path) == ["0002_broken.sql"]


def test_edited_applied_migration_is_refused(fresh_database: str, tmp_path: Path) -> None:
    (tmp_path / "0001_one.sql").write_text("CREATE TABLE one (id INT);")
    migrate(fresh_database, tmp_path)
    (tmp_path / "0001_one.sql").write_text("CREATE TABLE one (id BIGINT);")
    with pytest.raises(MigrationError, match="different content"):
        migrate(fresh_database, tmp_path)


def test_badly_named_file_is_refused(fresh_database: str, tmp_path: Path) -> None:
    (tmp_path / "1_bad name.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="1_bad name.sql"):
        migrate(fresh_database, tmp_path)
