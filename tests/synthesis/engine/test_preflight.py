"""Before a run, one cheap call per model: an unreachable model or a missing key is one line naming it."""

import pytest

from synthesis.engine import RunError, preflight


async def test_preflight_names_the_unreachable_model(tmp_path, monkeypatch):
    from agents.calls.client import LLMClient

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")  # a key, so the dead server is what fails
    dead = LLMClient(model="openai/nothing", api_base="http://127.0.0.1:9/v1", timeout=2, max_retries=0)
    with pytest.raises(RunError, match="critic model 'openai/nothing' is not reachable"):
        await preflight({"critic": dead})


def test_a_missing_key_at_preflight_says_which_variable_to_set(tmp_path, capsys, monkeypatch):
    from synthesis import debate

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"problem": "1 + 1?", "answer": "2"}\n')
    code = debate.main(["--problems", str(problems), "--out", str(tmp_path / "run"), "--critic-model",
                        "openai/gpt-4o-mini"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.count("\n") == 0, error
    assert "critic model openai/gpt-4o-mini: authentication failed: set OPENAI_API_KEY, or pass " \
           "--critic-api-key-env NAME" in error
