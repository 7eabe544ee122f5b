"""A trained llama-architecture checkpoint (SmolLM2 and kin) as one GGUF file, for llama.cpp's native server.

Used by `training.export --format gguf` and by `hf/PATH` served natively (agents.backends.local_models.gguf_for). It lives
in agents because serving needs it, and imports point from training to agents, never back. Why: `hf/` generates in-process, one request at a time (2.6 tok/s measured here on a trained SmolLM2-135M); the
same weights as GGUF served by the native server with parallel slots ran at 29 tok/s (f16) and 41 tok/s (q8_0)
(issue 25). The `gguf` package ships the writer and the tensor-name map but not llama.cpp's `convert_hf_to_gguf.py`
(a 10,000-line script that needs llama.cpp's source tree), so this is the llama branch of it, hand-written: the
same names, the same Q/K permutation, the same tokenizer keys. Other architectures are refused in one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GGUF_TYPES = ("f16", "q8_0")
ARCHITECTURES = ("LlamaForCausalLM",)


class GGUFExportError(ValueError):
    """The checkpoint cannot be written as GGUF here (not a folder, not llama, an unknown tokenizer)."""


def _config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.is_file():
        raise GGUFExportError(f"{model_dir}: no config.json (expected a transformers model folder)")
    config = json.loads(path.read_text())
    if not set(config.get("architectures") or []) & set(ARCHITECTURES):
        raise GGUFExportError(f"{model_dir}: architecture {config.get('architectures')} is not supported "
                              f"(GGUF export handles {', '.join(ARCHITECTURES)})")
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if rope.get("rope_type", "default") != "default":
        raise GGUFExportError(f"{model_dir}: rope scaling {rope.get('rope_type')!r} is not supported")
    return config


def pre_tokenizer(tokenizer: dict[str, Any], where: Path) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenizer, read from its structure.

    llama.cpp's converter tells them apart by hashing the tokens of a test text; two shapes cover SmolLM2: the Hub's
    (digits split one by one, then byte-level: "smollm") and plain byte-level with GPT-2's regex ("gpt-2", what
    transformers writes when it converts a GGUF). The split of digits matters for arithmetic, so a guess is no
    option: anything else is refused."""
    pre = tokenizer.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers") if pre.get("type") == "Sequence" else [pre]
    kinds = [(part.get("type"), part.get("individual_digits"), part.get("use_regex")) for part in parts]
    if kinds == [("ByteLevel", None, True)]:
        return "gpt-2"
    if kinds == [("Digits", True, None), ("ByteLevel", None, False)] or kinds == [("Digits", True, None),
                                                                               ("ByteLevel", None, True)]:
        return "smollm"
    raise GGUFExportError(f"{where}: pre-tokenizer {[kind[0] for kind in kinds]} has no known llama.cpp name")


def _tokenizer(writer: Any, model_dir: Path, vocab_size: int) -> None:
    import gguf

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise GGUFExportError(f"{model_dir}: no tokenizer.json (a fast byte-level BPE tokenizer is needed)")
    tokenizer = json.loads(path.read_text(encoding="utf-8"))
    if tokenizer["model"].get("type") != "BPE" or tokenizer["model"].get("byte_fallback"):
        raise GGUFExportError(f"{path}: expected a byte-level BPE tokenizer, got {tokenizer['model'].get('type')}")
    by_id = {index: text for text, index in tokenizer["model"]["vocab"].items()}
    types = {index: gguf.TokenType.NORMAL for index in by_id}
    for added in tokenizer.get("added_tokens", []):  # special tokens are control tokens, others user-defined
        by_id[added["id"]] = added["content"]
        types[added["id"]] = gguf.TokenType.CONTROL if added["special"] else gguf.TokenType.USER_DEFINED
    # The embedding matrix may have more rows than the tokenizer has tokens: llama.cpp wants one entry per row.
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre_tokenizer(tokenizer, path))
    writer.add_token_list([by_id.get(index, f"[PAD{index}]") for index in range(vocab_size)])
    writer.add_token_types([types.get(index, gguf.TokenType.UNUSED) for index in range(vocab_size)])
    gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=vocab_size).add_to_gguf(writer, quiet=True)


def _permute(weights: Any, heads: int) -> Any:
    """HF's rotary layout (halves) to llama.cpp's (interleaved pairs), as convert_hf_to_gguf.py's LlamaModel does."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _tensors(model_dir: Path) -> Any:
    """(name, float32 numpy array) for every weight of the checkpoint's safetensors files."""
    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise GGUFExportError(f"{model_dir}: no *.safetensors weights")
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for name in handle.keys():
                yield name, handle.get_tensor(name).float().numpy()


def export_gguf(model_dir: str | Path, out: str | Path, gguf_type: str = "f16") -> Path:
    """Write the checkpoint `model_dir` as a GGUF file (`out`: a file, or a folder to put MODEL-TYPE.gguf in)."""
    import gguf
    import numpy as np

    if gguf_type not in GGUF_TYPES:
        raise GGUFExportError(f"--gguf-type {gguf_type}: expected one of {', '.join(GGUF_TYPES)}")
    model_dir = Path(model_dir)
    config = _config(model_dir)
    out = Path(out)
    if out.suffix != ".gguf":
        out = out / f"{model_dir.resolve().name}-{gguf_type}.gguf"
    out.parent.mkdir(parents=True, exist_ok=True)
    blocks, heads = config["num_hidden_layers"], config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads") or heads
    hidden = config["hidden_size"]
    head_dim = config.get("head_dim") or hidden // heads
    rope = config.get("rope_parameters") or {}
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, blocks)
    quant = gguf.GGMLQuantizationType.Q8_0 if gguf_type == "q8_0" else gguf.GGMLQuantizationType.F16
    # Written beside the target and renamed: a crash mid-write never leaves a file that looks complete.
    partial = out.with_name(out.name + ".partial")
    writer = gguf.GGUFWriter(str(partial), "llama")
    writer.add_name(model_dir.resolve().name)
    writer.add_context_length(config.get("max_position_embeddings", 2048))
    writer.add_embedding_length(hidden)
    writer.add_block_count(blocks)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(rope.get("rope_theta", config.get("rope_theta", 10_000.0))))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if gguf_type == "q8_0" else gguf.LlamaFileType.MOSTLY_F16)
    _tokenizer(writer, model_dir, config["vocab_size"])
    for name, data in _tensors(model_dir):
        if name == "lm_head.weight" and config.get("tie_word_embeddings"):
            continue  # llama.cpp reuses token_embd when output.weight is absent
        if name.endswith("self_attn.q_proj.weight"):
            data = _permute(data, heads)
        elif name.endswith("self_attn.k_proj.weight"):
            data = _permute(data, kv_heads)
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise GGUFExportError(f"{model_dir}: weight {name} has no GGUF name for a llama model")
        if data.ndim == 1:  # norms stay fp32, as llama.cpp's converter keeps them
            writer.add_tensor(target, data.astype(np.float32))
        elif quant == gguf.GGMLQuantizationType.Q8_0:
            writer.add_tensor(target, gguf.quants.quantize(data, quant), raw_dtype=quant)
        else:
            writer.add_tensor(target, data.astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(out)
    return out

