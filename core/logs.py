"""Loguru set-up shared by every process: console lines (JSON when LOG_JSON=1) and a JSON-lines file.

Each process (supervisor, actor, Serve replica, bot) calls `setup_logging` once with its component
name. Every line carries `component`, `pid` and `request_id` ("-" outside a request). The file sink
under DATA_DIR/logs is line-buffered so that lines from several processes never interleave, and is
the owner's alone (directory 0700, file 0600): log lines name users and requests.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any

from loguru import logger

from core.config import Settings

_CONSOLE = ("<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
            "<cyan>{extra[component]}</cyan> rid={extra[request_id]} {message}{extra[_fields]}")
_RESERVED = {"component", "request_id", "_json", "_fields"}


def _to_json(record: dict[str, Any]) -> str:
    extra = record["extra"]
    line = {
        "ts": record["time"].isoformat(),
        "level": record["level"].name,
        "component": extra.get("component", "-"),
        "pid": record["process"].id,
        "request_id": extra.get("request_id", "-"),
        "msg": record["message"],
        **{k: v for k, v in extra.items() if k not in _RESERVED},
    }
    if record["exception"] is not None:
        line["exception"] = repr(record["exception"].value)
    return json.dumps(line, ensure_ascii=False, default=str)


def _patch(record: dict[str, Any]) -> None:
    extra = record["extra"]
    extra.setdefault("request_id", "-")
    fields = {k: v for k, v in extra.items() if k not in _RESERVED}
    extra["_fields"] = (" " + " ".join(f"{k}={v}" for k, v in fields.items())) if fields else ""
    extra["_json"] = _to_json(record)


def _json_format(_: dict[str, Any]) -> str:
    return "{extra[_json]}\n"


def _console_format(_: dict[str, Any]) -> str:
    return _CONSOLE + "\n{exception}"


def _owner_only(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def setup_logging(settings: Settings, component: str) -> None:
    """Configure loguru for this process; safe to call again (it replaces the sinks)."""
    logger.remove()
    logger.configure(extra={"component": component, "request_id": "-"}, patcher=_patch)
    level = settings.LOG_LEVEL.value
    console_format = _json_format if settings.LOG_JSON else _console_format
    logger.add(sys.stderr, level=level, format=console_format, colorize=not settings.LOG_JSON and sys.stderr.isatty())
    settings.log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    logger.add(str(settings.log_file), level=level, format=_json_format, buffering=1,
               encoding="utf-8", opener=_owner_only)
    with contextlib.suppress(PermissionError):  # made by another user: theirs to protect
        settings.log_file.parent.chmod(0o700)
        settings.log_file.chmod(0o600)  # also a file an older version left readable
    logger.debug("logging ready", pid=os.getpid())
