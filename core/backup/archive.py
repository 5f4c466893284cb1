"""The export archive: its layout, its manifest, and the checks a restore makes before touching anything.

An archive is one uncompressed tar (its big member is already compressed):

    database.dump             pg_dump's custom format, data only, one snapshot (`core.db.dump`)
    vectors/<collection>.npz  per vector collection: ids, float32 vectors and their metadata
    manifest.json             written last: format, schema version, row counts, vector counts,
                              and every other member's size and SHA-256

A truncated archive has no manifest or a member cut short; a damaged one fails a checksum; either
is refused with what was wrong. The manifest also says plainly what is not in the archive: the
Redis caches (rebuilt on use) and any chunk whose vector was gone from Milvus at export time
(`missing`: after a restore `ustadh reindex` embeds them again).
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "ustadh-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "database.dump"
NOT_INCLUDED = ("Redis (caches, conversation memory and rate limits: rebuilt on use); vectors missing from "
                "Milvus at export time are listed per collection, `ustadh reindex` embeds them again")


class ArchiveError(ValueError):
    """The archive cannot be restored; the message says why."""


@dataclass(frozen=True)
class Collection:
    name: str
    dimension: int
    vectors: int
    missing: int


@dataclass(frozen=True)
class Manifest:
    schema_version: int
    created_at: str
    tables: dict[str, int]
    collections: list[Collection]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    not_included: str = NOT_INCLUDED

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise ArchiveError("not an Ustadh export (its manifest names another format)")
            if data.get("format_version") != FORMAT_VERSION:
                raise ArchiveError(f"export format {data.get('format_version')} is not one this version reads")
            data["collections"] = [Collection(**c) for c in data["collections"]]
            return cls(**data)
        except (ValueError, TypeError, KeyError) as exc:
            if isinstance(exc, ArchiveError):
                raise
            raise ArchiveError(f"the manifest is damaged: {exc}") from None


def vectors_member(collection: str) -> str:
    return f"vectors/{collection}.npz"


def pack_vectors(ids: list[str], vectors: np.ndarray, metadata: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    columns = {key: np.asarray([m[key] for m in metadata]) for key in (metadata[0] if metadata else {})}
    np.savez_compressed(buffer, ids=np.asarray(ids, dtype=str), vectors=np.asarray(vectors, np.float32),
                        **{f"meta_{k}": v for k, v in columns.items()})
    return buffer.getvalue()


def unpack_vectors(raw: bytes) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
    with np.load(io.BytesIO(raw), allow_pickle=False) as data:
        ids = [str(i) for i in data["ids"]]
        columns = {k.removeprefix("meta_"): data[k].tolist() for k in data.files if k.startswith("meta_")}
        vectors = data["vectors"]
    metadata = [{k: column[i] for k, column in columns.items()} for i in range(len(ids))]
    return ids, vectors, metadata


def write(path: Path, manifest: Manifest, members: dict[str, Path]) -> Manifest:
    """Tar the members (name -> file), then the manifest with their checksums; written beside `path`
    and renamed into place, so `path` is whole or absent."""
    files = {name: {"bytes": file.stat().st_size, "sha256": _sha256(file)} for name, file in members.items()}
    final = Manifest(**{**asdict(manifest), "collections": manifest.collections, "files": files})
    partial = path.with_name(path.name + ".partial")
    with tarfile.open(partial, "w") as tar:
        for name, file in members.items():
            tar.add(file, arcname=name)
        info = tarfile.TarInfo(MANIFEST)
        raw = final.to_json()
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    partial.replace(path)
    return final


class Archive:
    """An archive opened for restoring, every member checked against the manifest first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.tar = tarfile.open(path, "r:")  # noqa: SIM115  # closed by close(), after the restore
            names = self.tar.getnames()
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise ArchiveError(f"{path} is not a readable archive (truncated or damaged?): {exc}") from None
        if MANIFEST not in names:
            raise ArchiveError(f"{path} has no manifest: the archive is truncated or not an Ustadh export")
        self.manifest = Manifest.from_json(self.read(MANIFEST))
        self._check(set(names))

    def _check(self, names: set[str]) -> None:
        expected = set(self.manifest.files) | {MANIFEST}
        if DATABASE not in self.manifest.files or names != expected:
            raise ArchiveError(f"the archive's members {sorted(names)} are not the ones its manifest lists")
        for name, meta in self.manifest.files.items():
            digest = hashlib.sha256()
            self._stream(name, digest.update)
            if digest.hexdigest() != meta["sha256"]:
                raise ArchiveError(f"{name} is damaged: its checksum is not the manifest's")

    def read(self, name: str) -> bytes:
        parts: list[bytes] = []
        self._stream(name, parts.append)
        return b"".join(parts)

    def extract(self, name: str, to: Path) -> Path:
        with to.open("wb") as out:
            self._stream(name, out.write)
        return to

    def _stream(self, name: str, sink: Callable[[bytes], object]) -> None:
        try:
            member = self.tar.extractfile(name)
            if member is None:
                raise ArchiveError(f"{name} in the archive is not a file")
            for block in iter(lambda: member.read(1 << 20), b""):
                sink(block)
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise ArchiveError(f"{name} cannot be read (the archive is truncated or damaged): {exc}") from None

    def close(self) -> None:
        self.tar.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
