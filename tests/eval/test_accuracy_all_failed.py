"""eval.accuracy where every problem failed (a key the server refuses) says so and where to look, not "no records"."""

from eval.accuracy import main
from tests.conftest import StubServer


def test_every_problem_failing_is_one_line_naming_failures_jsonl(tmp_path, with_data_dir, monkeypatch, capsys):
    monkeypatch.setenv("STUB_KEY", "sk-refused-0000")
    refused = (401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
    with StubServer([refused]) as server:
        code = main(["--model", "openai/stub", "--api-base", server.api_base, "--api-key-env", "STUB_KEY",
                     "--no-preflight", "--problems", "math500", "--limit", "2", "--out", str(tmp_path / "acc")])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1 and last.startswith("no problem was graded: 2 failed"), last
    assert str(tmp_path / "acc" / "failures.jsonl") in last and not (tmp_path / "acc" / "accuracy.json").exists()
