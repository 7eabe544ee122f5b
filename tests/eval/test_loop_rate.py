"""accuracy.json counts looping answers per model and the accuracy on finished ones; the report shows both."""

import json
from pathlib import Path

import yaml

from eval.accuracy import summarize
from eval.report import write_report
from protocols.types import Problem, Sample, SampleSet

LOOP = "Let me try again: x = 1. " * 80


def _rows() -> list[SampleSet]:
    # 4 problems: right and finished, right but looping, wrong and cut, wrong and finished
    texts = [("\\boxed{1}", True, "stop"), (LOOP + "\\boxed{1}", True, "stop"), ("x = ", False, "length"),
             ("\\boxed{2}", False, "stop")]
    return [SampleSet(problem_id=f"p{i}", problem=Problem(id=f"p{i}", question="?", answer="1"), model="m",
                      samples=[Sample(text=text, answer="1" if ok else None, correct=ok, finish_reason=finish)])
            for i, (text, ok, finish) in enumerate(texts)]


def test_loop_rate_and_accuracy_on_finished_answers():
    result = summarize(_rows())
    assert (result["accuracy"], result["truncated"], result["looping"], result["loop_rate"]) == (0.5, 1, 1, 0.25)
    assert (result["finished"], result["finished_accuracy"]) == (2, 0.5)  # the loop and the cut answer left out
    assert "seq-rep" in result["repetition_rule"]


def test_the_models_table_shows_loops_next_to_cut_answers(tmp_path: Path):
    run = tmp_path / "acc"
    run.mkdir()
    rows = _rows()
    (run / "records.jsonl").write_text("".join(row.model_dump_json() + "\n" for row in rows))
    (run / "accuracy.json").write_text(json.dumps(summarize(rows) | {"model": "openai/x", "problem_set": "math500"}))
    (run / "config.yaml").write_text(yaml.safe_dump({"attempt": "accuracy", "run": {"problems": "math500"},
                                                     "accuracy": {"model": "openai/x", "samples": 1}}))
    text = write_report([run], tmp_path / "report").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| stage |"))
    assert "| answers cut at the token cap | answers looping | accuracy on finished answers |" in header
    row = next(line for line in text.splitlines() if "`openai/x`" in line)
    assert "| 1 (25.0%) | 1 (25.0%) | 50.0% |" in row
    (model,) = json.loads((tmp_path / "report" / "report.json").read_text())["models"]
    assert (model["looping"], model["loop_rate"], model["finished_accuracy"]) == (1, 0.25, 0.5)
