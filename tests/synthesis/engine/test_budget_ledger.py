"""A budget is about the run directory, across resumes (issue 28): three runs into one --out spend at most the budget
plus one call; usage a server lies about (negative tokens) is clamped, logged and cannot outrun the budget."""

import json
import os
from pathlib import Path

from agents.calls.client import LLMClient, LLMConfig
from tests.conftest import StubServer, chat_completion_body
from tests.planted_key import KEY, KEY_ENV, problems_file


def _spend(run_dir: Path) -> int:
    """What every process spent in the run directory, from its ledger (each process's last line)."""
    last = {}
    for line in (run_dir / "spend.jsonl").read_text().splitlines():
        row = json.loads(line)
        last[row["process"]] = row["usage"]
    return sum(usage["prompt_tokens"] + usage["completion_tokens"] for usage in last.values())


def test_three_runs_into_one_out_spend_at_most_the_budget_and_one_call(tmp_path, with_data_dir, capsys):
    from synthesis import critique_loop

    run_dir = tmp_path / "run"
    command = ["--problems", "math500", "--limit", "8", "--model", "oracle/reference", "--out", str(run_dir),
               "--budget-tokens", "1500", "--concurrency", "1"]
    statuses = []
    for _ in range(3):
        critique_loop.main(command)
        statuses.append(json.loads((run_dir / "manifest.json").read_text())["status"])
    assert statuses == ["budget_exhausted"] * 3
    manifest = json.loads((run_dir / "manifest.json").read_text())
    spent = _spend(run_dir)
    first = json.loads((run_dir / "spend.jsonl").read_text().splitlines()[-1])["usage"]
    average_call = spent / first["calls"]  # oracle calls here are ~250-310 tokens, growing with the path
    # Before: each run spent ~1,700 of its own, 5,000+ in all. Now the later runs spend nothing, and the first
    # stopped at its first call past the budget (test_..._negative_usage_... checks the bound exactly).
    assert 1500 <= spent <= 1500 + 1.5 * average_call
    assert len(set(json.loads(line)["process"] for line in (run_dir / "spend.jsonl").read_text().splitlines())) == 1
    assert manifest["spent_run"]["total_tokens"] == spent
    assert "budget_tokens reached" in manifest["stop_note"]


def _negative_usage(headers) -> tuple[int, dict]:
    body = chat_completion_body("1. x = \\boxed{1}\nACTION: terminate", prompt_tokens=-1_000_000,
                                completion_tokens=100)
    return 200, body


async def test_negative_usage_from_a_server_is_clamped_and_logged(caplog):
    with StubServer([_negative_usage]) as server:
        client = LLMClient(LLMConfig(model="openai/stub", api_base=server.api_base, api_key_env=None,
                                     max_retries=0))
        os.environ.setdefault("OPENAI_API_KEY", "sk-stub-placeholder-key")
        completion = await client.complete([{"role": "user", "content": "hi"}])
    assert (completion.prompt_tokens, completion.completion_tokens) == (0, 100)
    assert "prompt_tokens=-1000000" in caplog.text


def test_a_server_reporting_negative_usage_cannot_outrun_the_budget(tmp_path, monkeypatch):
    from synthesis import critique_loop

    monkeypatch.setenv(KEY_ENV, KEY)
    run_dir = tmp_path / "run"
    with StubServer([_negative_usage]) as server:
        for _ in range(3):  # three runs into one --out: the budget is the directory's
            code = critique_loop.main(["--problems", str(problems_file(tmp_path, 10)), "--out", str(run_dir), "--model",
                                       "openai/stub", "--api_base", server.api_base, "--api_key_env", KEY_ENV,
                                       "--budget-tokens", "450", "--concurrency", "1", "--no_preflight",
                                       "--reply_guard", "off"])
            assert code == 0
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "budget_exhausted" and len(server.requests) == 5
    # 100 counted tokens a call: the fifth call started at 400 < 450; the budget plus one call's worth at most.
    assert _spend(run_dir) == 500 and manifest["spent_run"]["total_tokens"] == 500
    assert "prompt_tokens=-1000000" in (run_dir / "run.log").read_text()
