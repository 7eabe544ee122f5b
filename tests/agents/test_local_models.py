"""`hf/` model strings: a local path must exist, and a Hub id is fetched only when the user allows it."""

import pytest

from agents.local_models import HUB_DOWNLOADS_ENV, check_available


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
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "agents.llm", "--model", "hf/runs/nothere", "--prompt", "hi"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={**__import__("os").environ, "PYTHONPATH": str(repo), "HF_HUB_OFFLINE": "0"})
    assert result.returncode == 2, result.stderr
    output = (result.stdout + result.stderr).strip()
    assert output.count("\n") == 0 and "hf/runs/nothere: no local folder" in output, output
