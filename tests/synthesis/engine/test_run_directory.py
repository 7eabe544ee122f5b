"""The run directory refuses in one line: a broken config.yaml, a read-only directory, and bad problems or budgets
(which create no directory at all)."""

import json
import os
import subprocess
import sys

import pytest

from synthesis.engine import RunError
from tests.fakes import ScriptedLLM
from tests.synthesis.engine.scripted_run import make_problems, scripted_run, solver


@pytest.mark.parametrize("content,message", [
    (b"attempt: debate\nrun: {problems: [unclosed\n", r"config\.yaml: not valid YAML \(line 3\)"),
    (b"- attempt\n- debate\n", r"config\.yaml: expected a mapping of the run's settings, got list"),
    (b"", r"config\.yaml: expected a mapping of the run's settings, got NoneType"),
    (b"\xff\xfe\x00garbage", r"config\.yaml: not valid YAML"),
])
async def test_a_broken_config_yaml_is_one_line_that_names_it(tmp_path, content, message):
    llm = ScriptedLLM(policy=["x"])
    await scripted_run(tmp_path, {"policy": llm}).execute(make_problems(1), solver(llm))
    (tmp_path / "run" / "config.yaml").write_bytes(content)
    with pytest.raises(RunError, match=message) as caught:
        await scripted_run(tmp_path, {"policy": llm}).execute(make_problems(2), solver(llm))
    assert "\n" not in str(caught.value) and str(tmp_path / "run" / "config.yaml") in str(caught.value)


def _read_only(path):
    """Make a directory tree unwritable, even for root (chattr +i); returns how to undo it."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "-R", "+i", str(path)], capture_output=True).returncode != 0:
            pytest.skip("running as root on a filesystem without chattr +i: cannot make a directory read-only")
        return lambda: subprocess.run(["chattr", "-R", "-i", str(path)], check=True)
    modes = {item: item.stat().st_mode for item in [path, *path.rglob("*")]}
    for item in modes:
        item.chmod(modes[item] & ~0o222)
    return lambda: [item.chmod(mode) for item, mode in modes.items()]


def test_a_read_only_run_directory_is_one_line_that_names_it(tmp_path, stub_server):
    from tests.conftest import chat_completion_body

    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"q{i}", "problem": "1 + 1?", "answer": "2"}) + "\n" for i in range(3)))
    out = tmp_path / "run"
    with stub_server([(200, chat_completion_body("1. \\boxed{2}"))]) as server:
        command = [sys.executable, "-m", "synthesis.debate", "--problems", str(problems), "--out", str(out),
                   "--max-turns", "1", "--policy-model", "hosted_vllm/stub", "--critic-model", "hosted_vllm/stub",
                   "--policy-api-base", server.api_base, "--critic-api-base", server.api_base]
        first = subprocess.run([*command, "--limit", "2"], capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stderr[-2000:]
        undo = _read_only(out)  # with its replay cache, config, records and manifest
        try:
            for limit in ("2", "3"):  # nothing to do, and one problem to do
                again = subprocess.run([*command, "--limit", limit], capture_output=True, text=True, timeout=300)
                lines = again.stderr.strip().splitlines()
                assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr[-2000:]
                assert len(lines) == 1 and lines[0].startswith("error: ") and str(out) in lines[0], again.stderr
        finally:
            undo()


@pytest.mark.parametrize("problems_bytes,flags,message", [
    (b"", [], r"empty\.jsonl: no problems in it"),
    (b"\n\n", [], r"empty\.jsonl: no problems in it"),
    (b'{"problem": "1 + 1?"}\n\x89PNG\r\n\x1a\n\x00\xff', [], r"empty\.jsonl:2: not UTF-8 text \(byte 0x89 at column 1\)"),
    (b'{"problem": "1 + 1?"}\n', ["--budget-cost", "-1"], r"budget_cost: expected a run budget in USD >= 0, got -1\.0"),
    (b'{"problem": "1 + 1?"}\n', ["--budget-cost", "nan"], r"budget_cost: expected a run budget in USD >= 0, got nan"),
    (b'{"problem": "1 + 1?"}\n', ["--budget-tokens", "-5"], r"budget_tokens: expected a run budget in tokens >= 0, "
                                                            r"got -5"),
    (b'{"problem": "1 + 1?"}\n', ["--max-tokens", "500"], r"--max-tokens was renamed: use --budget-tokens for the "
                                                           r"run's token budget, or --<role>-max-tokens"),
    (b'{"problem": "1 + 1?"}\n', ["--max_cost=5"], r"--max-cost was renamed: use --budget-cost"),
    (b'{"problem": "1 + 1?"}\n', ["--timeout", "5"], r"--timeout was renamed: use --<role>-timeout"),
    (b'{"problem": "1 + 1?"}\n', ["--max-concurrency", "critic=0"], r"max_concurrency: expected N or ROLE=N .*'critic=0'"),
    (b'{"problem": "1 + 1?"}\n', ["--max-concurrency", "judge=4"], r"--max-concurrency: no role 'judge' in this run \(roles: policy, critic\)"),
])
def test_bad_problems_or_budgets_are_one_line_and_create_no_run_directory(tmp_path, capsys, problems_bytes, flags,
                                                                          message):
    import re

    from synthesis import debate

    problems = tmp_path / "empty.jsonl"
    problems.write_bytes(problems_bytes)
    code = debate.main(["--problems", str(problems), "--out", str(tmp_path / "run"), "--policy-model",
                        "hosted_vllm/stub", "--critic-model", "hosted_vllm/stub", "--policy-api-base",
                        "http://127.0.0.1:9/v1", "--critic-api-base", "http://127.0.0.1:9/v1", *flags])
    stderr = capsys.readouterr().err
    assert code == 2 and stderr.strip().count("\n") == 0 and re.search(message, stderr), stderr
    assert not (tmp_path / "run").exists()
