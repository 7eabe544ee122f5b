"""HF checkpoint to GGUF (agents.backends.hf_to_gguf, training.export --format gguf): the same greedy text as hf/."""

import asyncio
import json
import shutil
import subprocess
import sys

import pytest

from agents.backends.hf_to_gguf import GGUFExportError, export_gguf, pre_tokenizer


@pytest.mark.parametrize("pre,name", [
    ({"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}, "gpt-2"),
    ({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True},
                                            {"type": "ByteLevel", "use_regex": False}]}, "smollm"),
])
def test_the_pre_tokenizer_is_named_from_its_structure(pre, name, tmp_path):
    assert pre_tokenizer({"pre_tokenizer": pre}, tmp_path) == name


def test_an_unknown_pre_tokenizer_or_architecture_is_refused_in_one_line(tmp_path):
    with pytest.raises(GGUFExportError, match="no known llama.cpp name"):  # a wrong digit split must not pass
        pre_tokenizer({"pre_tokenizer": {"type": "Metaspace"}}, tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(GGUFExportError, match="GPT2LMHeadModel.*is not supported"):
        export_gguf(tmp_path, tmp_path / "x.gguf")
    done = subprocess.run([sys.executable, "-m", "training.export", "--format", "gguf", str(tmp_path), "--out",
                           str(tmp_path / "x.gguf")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "is not supported" in done.stdout + done.stderr
    assert not list(tmp_path.glob("*.gguf*"))  # nothing half-written
    from training.export import ExportConfig, export

    with pytest.raises(ValueError, match="--push-to-hub: datasets only"):
        export([str(tmp_path)], ExportConfig(out="x.gguf", format="gguf", push_to_hub="me/model"))


@pytest.mark.slow
def test_the_embedded_models_checkpoint_round_trips_with_the_same_greedy_text(tmp_path, monkeypatch):
    """The embedded model's transformers conversion (what training starts from) served as hf/PATH through
    the native server (converted to f16 GGUF once) answers exactly as hf/ in-process does; q8_0 has llama.cpp's
    layout."""
    from gguf import GGMLQuantizationType, GGUFReader

    from agents.backends import embedded, local_models
    from agents.backends.local_models import resolve
    from agents.calls.client import LLMClient

    checkpoint = tmp_path / "final"
    shutil.copytree(resolve("embedded/smollm2-135m"), checkpoint)
    q8 = export_gguf(checkpoint, tmp_path, "q8_0")
    assert q8.name == "final-q8_0.gguf"
    reader = GGUFReader(q8)
    types = {tensor.name: tensor.tensor_type for tensor in reader.tensors}
    assert types["blk.0.attn_q.weight"] == GGMLQuantizationType.Q8_0 and types["output_norm.weight"].name == "F32"
    assert "output.weight" not in types  # tied embeddings: llama.cpp reuses token_embd
    assert reader.fields["tokenizer.ggml.pre"].contents() == "gpt-2"  # transformers' GGUF conversion's tokenizer

    messages = [{"role": "user", "content": "What is 12 + 7? Answer briefly."}]

    async def greedy(model: str) -> str:
        reply = await LLMClient(model=model).complete(messages, max_tokens=24, temperature=0.0)
        return reply.text

    before = embedded.running()
    try:
        monkeypatch.setenv(local_models.CACHE_ENV, str(tmp_path / "cache"))
        monkeypatch.setenv(local_models.HF_SERVE_ENV, "native")  # hf/ converted once, served by the native server
        native = asyncio.run(greedy(f"hf/{checkpoint}"))
        assert f"hf/{checkpoint}" in embedded.running()
        f16, = (tmp_path / "cache" / "gguf").glob("final-*-f16.gguf")
    finally:
        embedded.stop_all(keep=before)  # this test's servers, not a session's shared one
    monkeypatch.setenv(local_models.HF_SERVE_ENV, "inprocess")
    assert q8.stat().st_size < 0.6 * f16.stat().st_size
    assert native.strip() and native == asyncio.run(greedy(f"hf/{checkpoint}"))
