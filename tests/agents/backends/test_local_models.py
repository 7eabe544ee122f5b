"""`hf/` model strings: a local path must exist, and a Hub id is fetched only when the user allows it."""

from pathlib import Path

import pytest

from agents.backends.local_models import HUB_DOWNLOADS_ENV, check_available


@pytest.fixture(autouse=True)
def _empty_hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # read at call time, unlike the variable
    monkeypatch.delenv(HUB_DOWNLOADS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("model,message", [
    ("hf/runs/sft/final", r"hf/runs/sft/final: no such folder runs/sft/final$"),
    ("hf/./model", r"no such folder model$"),
    ("hf//abs/none", r"no such folder /abs/none$"),
    ("hf/runs/nothere", r"hf/runs/nothere: no local folder runs/nothere, and runs/nothere is not in the Hugging Face "
                        r"cache \(set LONGTHOUGHT_HUB_DOWNLOADS=1 to download it from the Hub\)"),
])
def test_a_missing_model_is_one_line_that_says_what_to_do(model, message):
    import re

    with pytest.raises(ValueError) as error:
        check_available(model)
    assert "\n" not in str(error.value) and re.search(message, str(error.value)), str(error.value)


def test_folders_pass_and_half_folders_are_named(tmp_path):
    (tmp_path / "ckpt").mkdir()
    with pytest.raises(ValueError, match="has no config.json"):
        check_available("hf/ckpt")
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    check_available("hf/ckpt")
    check_available("hf/embedded/smollm2-135m")  # converted on first use, not a path


def test_a_hub_id_is_allowed_when_cached_or_when_downloads_are_on(tmp_path, monkeypatch):
    snapshot = tmp_path / "hub" / "models--Org--Model" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (tmp_path / "hub" / "models--Org--Model" / "refs").mkdir()
    (tmp_path / "hub" / "models--Org--Model" / "refs" / "main").write_text("abc")
    check_available("hf/Org/Model")  # in the cache: no download needed
    with pytest.raises(ValueError, match="not in the Hugging Face cache"):
        check_available("hf/Org/Other")
    monkeypatch.setenv(HUB_DOWNLOADS_ENV, "1")
    check_available("hf/Org/Other")


def test_agents_llm_refuses_a_missing_checkpoint_in_one_line_without_reaching_for_the_hub(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    result = subprocess.run([sys.executable, "-m", "agents.llm", "--model", "hf/runs/nothere", "--prompt", "hi"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={**__import__("os").environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "0"})
    assert result.returncode == 2, result.stderr
    output = (result.stdout + result.stderr).strip()
    assert output.count("\n") == 0 and "hf/runs/nothere: no local folder" in output, output


def _llama_folder(path, architecture="LlamaForCausalLM"):
    import json

    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"architectures": [architecture]}))
    return path


def test_hf_checkpoints_are_served_natively_only_when_asked_and_only_if_llama(tmp_path, monkeypatch):
    from agents.backends import embedded
    from agents.backends.local_models import HF_SERVE_ENV, native_hf_by_default
    from agents.calls.config import LLMConfig

    llama, other = _llama_folder(tmp_path / "llama"), _llama_folder(tmp_path / "gpt2", "GPT2LMHeadModel")
    monkeypatch.delenv(HF_SERVE_ENV, raising=False)
    assert not embedded.is_embedded(f"hf/{llama}")
    assert LLMConfig(model=f"hf/{llama}", max_concurrency=8).concurrency() == 1  # in-process: one at a time
    with native_hf_by_default():  # eval.accuracy's default
        assert embedded.is_embedded(f"hf/{llama}") and not embedded.is_embedded(f"hf/{other}")
        assert isinstance(embedded.lookup(f"hf/{llama}"), embedded.HFCheckpoint)
        assert LLMConfig(model=f"hf/{llama}").concurrency() == embedded.slots("embedded/smollm2-135m")
        assert LLMConfig(model=f"hf/{other}").concurrency() == 1
    assert HF_SERVE_ENV not in __import__("os").environ  # restored
    monkeypatch.setenv(HF_SERVE_ENV, "inprocess")
    with native_hf_by_default():  # the user's choice wins
        assert not embedded.is_embedded(f"hf/{llama}")


def test_the_cached_gguf_follows_the_checkpoints_files(tmp_path, monkeypatch):
    import os

    from agents.backends import local_models

    folder = _llama_folder(tmp_path / "final")
    (folder / "model.safetensors").write_bytes(b"weights")
    first = local_models._fingerprint(folder)
    assert local_models._fingerprint(folder) == first
    os.utime(folder / "model.safetensors", ns=(1, 1))  # retrained in place: same name, new file
    assert local_models._fingerprint(folder) != first
    converted = []
    monkeypatch.setenv(local_models.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr("agents.backends.hf_to_gguf.export_gguf",
                        lambda source, target, kind: converted.append(kind) or Path(target).write_bytes(b"GGUF"))
    path = local_models.gguf_for(f"hf/{folder}")
    assert local_models.gguf_for(f"hf/{folder}") == path and converted == ["f16"]  # converted once
    assert path.parent == tmp_path / "cache" / "gguf" and path.name.endswith("-f16.gguf")
    other = _llama_folder(tmp_path / "elsewhere" / "final")  # another run's final/: its own file
    assert local_models.gguf_for(f"hf/{other}") != path and path.is_file()
    (folder / "model.safetensors").write_bytes(b"retrained")
    again = local_models.gguf_for(f"hf/{folder}")
    assert again != path and again.is_file() and not path.is_file()  # the stale conversion is gone
