"""Logging: JSON lines on the console when LOG_JSON=1, and the request id on every line of a request."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from loguru import logger

from core.config import Settings, load_settings
from core.logs import setup_logging
from core.request_id import accept_request_id, bound


def test_json_console_lines_carry_the_request_id(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                 settings: Settings) -> None:
    session_settings = settings
    settings = load_settings(_env_file=None, DATA_DIR=tmp_path, LOG_JSON="1")
    setup_logging(settings, "unit")
    try:
        with bound("rid-123"):
            logger.info("سؤال عن الكسور", chat=42)
        logger.info("outside")
        lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        setup_logging(session_settings, "tests")
    inside = next(line for line in lines if line["msg"] == "سؤال عن الكسور")
    assert inside["request_id"] == "rid-123" and inside["component"] == "unit" and inside["chat"] == 42
    assert next(line for line in lines if line["msg"] == "outside")["request_id"] == "-"
    file_lines = [json.loads(line) for line in settings.log_file.read_text(encoding="utf-8").splitlines()]
    assert any(line["msg"] == "سؤال عن الكسور" and line["request_id"] == "rid-123" for line in file_lines)


@pytest.mark.parametrize("candidate", [None, "", "x" * 129, "bad id\nwith newline", "<script>"])
def test_unsafe_incoming_ids_are_replaced(candidate: str | None) -> None:
    rid = accept_request_id(candidate)
    assert rid != candidate and len(rid) == 32


def test_safe_incoming_id_is_kept() -> None:
    assert accept_request_id("abc-123_X.y:z") == "abc-123_X.y:z"
