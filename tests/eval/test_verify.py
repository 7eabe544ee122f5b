"""The checker audit: a planted disagreement between our checker and math-verify is found, tabled, counted in the
report, filterable in the viewer, and kept out of training data by --require-agreement."""

import json
from pathlib import Path

import datasets
import pytest
import yaml

from eval.report import write_report
from eval.verify import main as verify_main
from eval.viewer.data import Store
from protocols.types import Problem, Record, Sample, SampleSet, ThoughtTree
from training.export import main as export_main

# Ours reads a plain number stated in prose; math-verify's own (LaTeX) extraction finds no math in it.
PLANTED = "The answer is 12"


def _record(pid: str, answer: str | None, question: str) -> Record:
    tree = ThoughtTree()
    tree.add(0, kind="answer", step={"index": 1, "text": f"So {answer}."}, answer=answer, correct=True)
    return Record(problem_id=pid, attempt="debate", problem=Problem(id=pid, question=question, answer="12"),
                  tree=tree, long_thought=f"Let me think. So {answer}.", shortcut=f"1. So {answer}.",
                  final_answer=answer, correct=True, stop_reason="terminated")


@pytest.fixture
def run(tmp_path: Path) -> Path:
    run = tmp_path / "debate"
    run.mkdir()
    records = [_record("agree", "\\frac{24}{2}", "How many eggs are in a dozen boxes of one egg each, counted?"),
               _record("planted", PLANTED, "What is seven plus five, written as a whole number of apples?")]
    (run / "records.jsonl").write_text("".join(record.to_json() + "\n" for record in records))
    (run / "config.yaml").write_text(yaml.safe_dump({"attempt": "debate", "run": {"problems": "x"}}))
    return run


def test_a_planted_disagreement_is_found_tabled_and_counted(run, tmp_path, capsys):
    assert verify_main([str(run), "--out", str(tmp_path / "verify")]) == 0
    out = capsys.readouterr().out
    assert f"{run} debate: 2 answers, 1 disagreements (ours only 1, math-verify only 0)" in out
    data = json.loads((tmp_path / "verify" / "verify.json").read_text())
    (row,) = data["disagreements"]
    assert (row["problem_id"], row["gold"], row["answer"], row["ours"], row["math_verify"]) == (
        "planted", "12", PLANTED, True, False)
    table = (tmp_path / "verify" / "verify.md").read_text()
    assert f"| `planted` | 12 | {PLANTED} | yes | no |" in table and "`agree`" not in table
    # the report counts it per attempt, the viewer filters on it
    report = json.loads((write_report([run], tmp_path / "report").parent / "report.json").read_text())
    assert report["attempts"]["debate"]["checker_disagreements"] == 1
    store = Store([run])
    assert [entry.problem_id for entry in store.filter(checkers="disagree")] == ["planted"]
    assert [entry.problem_id for entry in store.filter(checkers="agree")] == ["agree"]


def test_an_open_viewer_takes_in_an_audit_written_after_it_read_the_records(run, tmp_path):
    """eval.verify often runs while the viewer is open: the rows already read are re-marked, records unchanged."""
    store = Store([run])
    assert store.filter(checkers="disagree") == []
    assert verify_main([str(run)]) == 0
    store.refresh()
    assert [entry.problem_id for entry in store.filter(checkers="disagree")] == ["planted"]
    (run / "checker_audit.json").unlink()  # an audit taken away takes its marks with it
    store.refresh()
    assert store.filter(checkers="disagree") == []


def test_samples_are_audited_one_by_one(tmp_path, capsys):
    run = tmp_path / "acc"
    run.mkdir()
    problem = Problem(id="p", question="7 + 5?", answer="12")
    samples = [Sample(text="7 + 5 = 12, so $\\boxed{12}$.", answer="12", correct=True),
               Sample(text=PLANTED + ".", answer="12", correct=True),
               Sample(text="$\\boxed{13}$", answer="13", correct=False)]
    (run / "records.jsonl").write_text(SampleSet(problem_id="p", problem=problem, model="m",
                                                 samples=samples).model_dump_json() + "\n")
    assert verify_main([str(run)]) == 0
    assert f"{run} samples: 3 answers, 1 disagreements" in capsys.readouterr().out
    (row,) = json.loads((run / "checker_audit.json").read_text())["disagreements"]
    assert row["sample"] == 1


def test_require_agreement_keeps_only_what_both_checkers_accept(run, tmp_path):
    out = tmp_path / "export"
    assert export_main([str(run), "--out", str(out), "--require-agreement", "--decontaminate", "off"]) == 0
    assert [row["id"] for row in datasets.load_dataset(str(out), split="train").to_list()] == ["agree"]
    card = (out / "README.md").read_text()
    stats = json.loads(card.split("## Statistics")[1].split("```json\n")[1].split("```")[0])
    assert stats["agreement"] == {"checked": 2, "kept": 1, "both_accept": 1, "only_ours": 1, "only_math_verify": 0}
    assert export_main([str(run), "--out", str(tmp_path / "all"), "--decontaminate", "off"]) == 0  # default: all
    assert len(datasets.load_dataset(str(tmp_path / "all"), split="train")) == 2


def test_a_missing_run_is_one_line(tmp_path, capsys):
    assert verify_main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope" in err and len(err.splitlines()) == 1
