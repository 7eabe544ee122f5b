"""--dry-run writes nothing, not even the replay cache, and estimates calls, tokens and cost."""

import re


def test_a_dry_run_writes_nothing(tmp_path):
    from synthesis import debate

    problems = tmp_path / "p.jsonl"
    problems.write_text('{"problem": "1 + 1?", "answer": "2"}\n')
    code = debate.main(["--problems", str(problems), "--out", str(tmp_path / "run"), "--dry-run"])
    assert code == 0
    assert not (tmp_path / "run").exists()  # not even the replay cache


def test_a_dry_run_on_a_priced_model_estimates_calls_tokens_and_cost(tmp_path, capsys):
    from synthesis import debate

    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(f'{{"id": "q{i}", "problem": "What is {i} + {i}?", "answer": "{2 * i}"}}\n'
                                for i in range(7)))
    code = debate.main(["--problems", str(problems), "--out", str(tmp_path / "run"), "--dry-run", "--max-turns", "4",
                        "--policy-model", "openai/gpt-4o-mini", "--critic-model", "openai/gpt-4o-mini"])
    text = " ".join(capsys.readouterr().err.split())
    assert code == 0 and not (tmp_path / "run").exists()
    assert "dry run: 7 problems" in text and "q0, q1, q2, q3, q4, ... (2 more)" in text
    calls = 7 * 2 * 4  # a policy step and a verdict per turn
    assert f"at most {calls} model calls" in text
    assert re.search(r"about [\d,]+ prompt \+ [\d,]+ completion tokens", text) and re.search(r"at most \$0\.\d{4}", text)
