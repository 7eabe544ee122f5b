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


def test_a_torn_last_line_is_left_out_as_every_run_reader_does(tmp_path, data_dir, capsys):
    os.environ.setdefault("LONGTHOUGHT_DATA_DIR", str(data_dir))
    row = {"problem_id": "a", "problem": {"id": "a", "question": "How many sheep after 9 weeks of buying 5?"},
           "long_thought": "45 more."}
    (tmp_path / "records.jsonl").write_text(json.dumps(row) + "\n" + json.dumps(row)[:40])
    assert main([str(tmp_path), "--against", "math500"]) == 0
    assert "0 of 1 overlap" in capsys.readouterr().out


def test_an_against_file_that_is_not_there_is_one_line_and_nothing_is_written(tmp_path, data_dir, capsys):
    os.environ.setdefault("LONGTHOUGHT_DATA_DIR", str(data_dir))
    assert main(["math500", "--against", str(tmp_path / "typo.jsonl"), "--out", str(tmp_path / "out")]) == 2
    assert "--against" in capsys.readouterr().err and not (tmp_path / "out").exists()
