"""Step labels out: oracle debate and tree-search records -> PRM rows whose labels are the oracle's step truth."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from agents.backends.oracle.reference import reference_for
from eval.fidelity import is_reference
from protocols.step_labels import BAD, GOOD, STEP_TAG
from protocols.types import Problem
from training.export import main as export_main

COMMON = ["--problems", "math500", "--limit", "4", "--policy-model", "oracle/reference-e30"]
ATTEMPTS = {"debate": ["--critic-model", "oracle/reference"],
            "tree_search": ["--scorer", "llm-judge", "--scorer-model", "oracle/reference", "--rewrite-model",
                            "oracle/reference", "--width", "3", "--depth", "8", "--beam", "2"]}


@pytest.fixture(scope="module")
def oracle_runs(tmp_path_factory, data_dir) -> list[Path]:
    runs = []
    for attempt, flags in ATTEMPTS.items():
        out = tmp_path_factory.mktemp("prm") / attempt
        result = subprocess.run([sys.executable, "-m", f"synthesis.{attempt}", *COMMON, *flags, "--out", str(out)],
                                capture_output=True, text=True, timeout=600,
                                env={**os.environ, "LONGTHOUGHT_DATA_DIR": str(data_dir)})
        assert result.returncode == 0, result.stderr[-2000:]
        runs.append(out)
    return runs


def _truth(question_id: str, steps: list[str]) -> list[bool]:
    """The oracle's truth: a step is right when it and every step before it on its line is the reference step."""
    from protocols.problems import load

    problem: Problem = next(p for p in load("math500") if p.id == question_id)
    reference = reference_for(problem)
    truth, ok = [], True
    for index, text in enumerate(steps, start=1):
        ok = ok and is_reference(reference, index, text)
        truth.append(ok)
    return truth


def test_prm_rows_match_the_oracles_step_truth(oracle_runs, tmp_path, with_data_dir):
    out = tmp_path / "prm"
    assert export_main([*map(str, oracle_runs), "--format", "prm", "--decontaminate", "off", "--no-dedup",
                        "--out", str(out)]) == 0
    rows = datasets.load_dataset(str(out), split="train").to_list()
    labels = [label for row in rows for label in row["labels"]]
    assert {row["attempt"] for row in rows} == set(ATTEMPTS)
    assert labels.count(False) >= 4 and labels.count(True) >= 8  # both kinds, from the injected errors
    for row in rows:
        assert len(row["completions"]) == len(row["labels"]) == len(row["sources"]) > 0
        assert row["labels"] == _truth(row["id"], row["completions"]), row
        assert set(row["sources"]) <= {"oracle", "answer_check"}  # rehearsal labels say so
    card = (out / "README.md").read_text()
    stats = json.loads(card.split("## Statistics")[1].split("```json\n")[1].split("```")[0])
    assert stats["prm"]["lines"] == len(rows) and stats["prm"]["labels"]["wrong"] >= 4


def test_math_shepherd_rows_tag_every_step_like_the_hf_prm_scorer_reads(oracle_runs, tmp_path, with_data_dir):
    out = tmp_path / "shepherd"
    assert export_main([str(oracle_runs[1]), "--format", "prm", "--prm-style", "math-shepherd", "--decontaminate",
                        "off", "--out", str(out)]) == 0
    rows = datasets.load_dataset(str(out), split="train").to_list()
    assert rows and all(row["input"].count(STEP_TAG) == row["input"].count("Step ") for row in rows)
    tag_at_step_end = re.compile(r" ([+-])(?= Step \d+: |$)")
    for row in rows:
        tags = tag_at_step_end.findall(row["label"])
        assert len(tags) == row["input"].count(STEP_TAG) and STEP_TAG not in row["label"]
        assert tag_at_step_end.sub(f" {STEP_TAG}", row["label"]) == row["input"]
    assert any(BAD in tag_at_step_end.findall(row["label"]) for row in rows)
    assert any(GOOD in tag_at_step_end.findall(row["label"]) for row in rows)


def test_long_thought_rows_keep_each_steps_label_and_source(oracle_runs, tmp_path, with_data_dir):
    out = tmp_path / "thoughts"
    assert export_main([str(oracle_runs[0]), "--decontaminate", "off", "--out", str(out)]) == 0
    for row in datasets.load_dataset(str(out), split="train").to_list():
        labels = json.loads(row["step_labels"])
        assert labels and {label["label"] for label in labels} <= {"correct", "wrong", "unknown"}
        assert all(label["by"] in ("oracle", "answer_check") for label in labels if label["label"] != "unknown")


@pytest.mark.parametrize("argv, expected", [
    (["--format", "prmx"], "--format prmx: expected dataset, prm or gguf"),
    (["--format", "prm", "--prm-style", "shepard"], "--prm-style shepard: expected trl or math-shepherd"),
])
def test_an_unknown_format_is_one_line(argv, expected, tmp_path, capsys):
    assert export_main([str(tmp_path), *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1
