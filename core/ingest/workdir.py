"""A job's working directory under INGEST dir: its input bytes and each finished stage's output.

A stage's output is written (atomically: temp file, fsync, rename) before the job's state moves
on, so a job resumed after a crash finds the input of the stage it was in. The directory is
removed when the job ends.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any
from uuid import UUID


class JobFiles:
    def __init__(self, root: Path, job_id: UUID) -> None:
        self.dir = root / str(job_id)

    @property
    def input(self) -> Path:
        return self.dir / "input"

    def write_input(self, data: bytes) -> Path:
        self._write(self.input, data)
        return self.input

    def read_input(self) -> bytes:
        return self.input.read_bytes()

    def save(self, stage: str, value: Any) -> None:
        self._write(self.dir / f"{stage}.json", json.dumps(value, ensure_ascii=False).encode("utf-8"))

    def load(self, stage: str) -> Any:
        return json.loads((self.dir / f"{stage}.json").read_text("utf-8"))

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _write(self, path: Path, data: bytes) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
