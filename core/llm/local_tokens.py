"""Token counts of the local model, from the model's own tokenizer in this process.

llama-cpp-python's server sends no `usage` on a streamed completion, and its tokenize endpoint
waits behind whatever request holds the model (it serves one at a time), so a learner's bill would
wait for the next learner's answer. Instead each process that bills loads the model file's
vocabulary only (`vocab_only=True`: the tokenizer, no weights) and counts what the server counted:
the prompt as the ChatML chat template of both local models renders it (`chatml`; with the
beginning-of-text token when the model's vocabulary asks for one) and the answer's text. A test
holds these counts to the server's own non-streamed usage for the same request.
"""
from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_loaded: dict[Path, Any] = {}


@atexit.register
def _close() -> None:
    """Free the vocabularies before the interpreter tears llama_cpp down (its __del__ fails then)."""
    for vocabulary in _loaded.values():
        vocabulary.close()
    _loaded.clear()


def chatml(messages: Sequence[dict[str, str]]) -> str:
    """The prompt as a ChatML chat template renders it, ready for the assistant's reply."""
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return turns + "<|im_start|>assistant\n"


def _vocabulary(model_path: Path) -> Any:
    with _lock:
        if model_path not in _loaded:
            from llama_cpp import Llama

            _loaded[model_path] = Llama(str(model_path), vocab_only=True, verbose=False)
        return _loaded[model_path]


def prompt_tokens(model_path: Path, messages: Sequence[dict[str, str]]) -> int:
    return len(_vocabulary(model_path).tokenize(chatml(messages).encode("utf-8"), add_bos=True, special=True))


def text_tokens(model_path: Path, text: str) -> int:
    if not text:
        return 0
    return len(_vocabulary(model_path).tokenize(text.encode("utf-8"), add_bos=False, special=False))
