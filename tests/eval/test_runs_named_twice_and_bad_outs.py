"""The read side (issue 28 round 3 probe): a run named twice is read once by every reader, and a bad --out or --json
is one line that writes nothing — not into the run, not beside it."""

import json
from pathlib import Path

import pytest
import yaml

from eval.report import write_report
from eval.thoughts import analyse
from eval.thoughts import main as thoughts_main
from eval.verify import main as verify_main
from protocols.types import Problem, Record, ThoughtTree
from training.export import main as export_main


def _record(pid: str) -> Record:
    tree = ThoughtTree()
    tree.add(0, kind="answer", step={"index": 1, "text": "So 12."}, answer="12", correct=True)
    return Record(problem_id=pid, attempt="debate", problem=Problem(id=pid, question=f"What is {pid}?", answer="12"),
                  tree=tree, long_thought="Let me think. Wait, so 12.", shortcut="1. So 12.", final_answer="12",
                  correct=True, stop_reason="terminated")


@pytest.fixture
def run(tmp_path: Path) -> Path:
    run = tmp_path / "debate"
    run.mkdir()
    (run / "records.jsonl").write_text("".join(_record(pid).to_json() + "\n" for pid in ("a", "b")))
    (run / "config.yaml").write_text(yaml.safe_dump({"attempt": "debate", "run": {"problems": "x"}}))
    return run


def test_a_run_named_twice_is_counted_once_by_report_thoughts_and_verify(run, tmp_path, capsys, caplog):
    # once by its folder, once by its records.jsonl: the same rows
    report = json.loads((write_report([run, run / "records.jsonl"], tmp_path / "report").parent / "report.json")
                        .read_text())
    assert report["attempts"]["debate"]["problems"] == 2
    assert "the same run as" in caplog.text
    assert analyse([run, run])["debate"]["thoughts"] == 2
    assert verify_main([str(run), str(run)]) == 0
    assert f"{run} debate: 2 answers" in capsys.readouterr().out
    assert json.loads((run / "checker_audit.json").read_text())["attempts"]["debate"]["checked"] == 2


def test_verify_with_a_file_for_out_writes_nothing_into_the_run(run, tmp_path, capsys):
    (tmp_path / "afile.txt").write_text("x")
    assert verify_main([str(run), "--out", str(tmp_path / "afile.txt")]) == 2
    assert "--out" in capsys.readouterr().err and not (run / "checker_audit.json").exists()


def test_thoughts_json_that_is_a_folder_is_one_line_and_a_new_folder_is_made(run, tmp_path, capsys):
    assert thoughts_main([str(run), "--json", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --json") and "\n" not in err and "Traceback" not in err
    assert thoughts_main([str(run), "--json", str(tmp_path / "new" / "t.json")]) == 0
    assert json.loads((tmp_path / "new" / "t.json").read_text())["debate"]["thoughts"] == 2


@pytest.mark.parametrize("where", ["run", "parent"])
def test_export_into_the_run_or_around_it_is_refused_and_writes_nothing(run, capsys, where):
    before = sorted(path.name for path in run.parent.rglob("*"))
    out = run if where == "run" else run.parent
    assert export_main([str(run), "--out", str(out)]) == 2
    assert f"the run {run} is there" in capsys.readouterr().err
    assert sorted(path.name for path in run.parent.rglob("*")) == before


def test_a_report_on_a_run_with_a_bad_line_leaves_no_out_folder(run, tmp_path, capsys):
    from eval.report import main as report_main

    lines = (run / "records.jsonl").read_text().splitlines()
    (run / "records.jsonl").write_text(lines[0][:200] + "\n" + lines[1] + "\n")  # a cut line, then a whole one
    assert report_main([str(run), "--out", str(tmp_path / "report")]) == 2
    assert "records.jsonl:1" in capsys.readouterr().err and not (tmp_path / "report").exists()
