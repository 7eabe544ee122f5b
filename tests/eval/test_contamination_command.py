"""eval.contamination as a command: a problems file with a planted MATH500 question is counted, and --out writes the
JSON and Markdown pair."""

import json
import os

from eval.contamination import main
from protocols.problems import load


def test_out_writes_the_counts_and_the_example(tmp_path, data_dir, capsys):
    os.environ.setdefault("LONGTHOUGHT_DATA_DIR", str(data_dir))
    planted = load("math500")[0]
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps(row) + "\n" for row in [
        {"id": "planted", "question": planted.question, "answer": planted.answer},
        {"id": "clean", "question": "A farmer has 17 sheep and buys 5 more each week. How many after 9 weeks?",
         "answer": "62"}]))
    assert main([str(problems), "--against", "math500", "--out", str(tmp_path / "out")]) == 0
    assert "vs math500: 1 of 2 overlap" in capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "contamination.json").read_text())
    found = report["sources"][str(problems)]["eval_sets"]["math500"]
    assert (found["contaminated"], found["examples"][0]["id"]) == (1, "planted")
    assert "`planted`" in (tmp_path / "out" / "contamination.md").read_text()
