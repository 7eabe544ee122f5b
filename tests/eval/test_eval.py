"""Accuracy, thought analysis, reward-model meta-evaluation, ablation and the report."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.accuracy import AccuracyConfig, judge_problem, summarize
from eval.reward_models import judge, load_labelled, metrics
from eval.thoughts import analyse, keyword_counts, text_wait_changes
from protocols.types import Problem
from synthesis.engine import Run, RunConfig
from tests.fakes import ScriptedLLM
from agents.roles.reward import StepScore

HAND_TEXT = """Let me think. If x = 3 then 2x = 6.

Wait, 6 is not 8, so consider x = 4. Alternatively, divide: 8 / 2 = 4.

Therefore x = 4. If possible, let me check: 2 * 4 = 8.

Wait, that is what I had.

So x = 4."""


def test_keyword_and_ngram_counts_match_hand_counts():
    assert keyword_counts(HAND_TEXT) == {"wait": 2, "alternatively": 1, "therefore": 1, "consider": 1, "if": 2,
                                         "possible": 1, "let me": 2}
    # "wait" then 8/2=4 (new numbers) changes course; "Wait, that is what I had" is followed by nothing new
    assert text_wait_changes(HAND_TEXT) == (1, 1)


def test_thought_table_for_text_files(tmp_path):
    path = tmp_path / "thought.txt"
    path.write_text(HAND_TEXT)
    row = analyse([path])["text"]
    assert row["thoughts"] == 1 and row["mean_lines"] == 5 and row["wait_changes_course"] == 0.5
    assert row["words_per_line"] == round(len(HAND_TEXT.split()) / 5, 1)
    assert row["wait_per_1k"] == round(2 * 1000 / row["mean_tokens"], 2)


def test_report_shows_the_rewrite_fallback_per_attempt(tmp_path):
    from eval.report import write_report
    from protocols.types import Record

    def record(attempt: str, problem_id: str, meta: dict) -> str:
        return Record(problem_id=problem_id, attempt=attempt, problem=Problem(id=problem_id, question="?"),
                      long_thought="x = 4", stop_reason="terminated", meta=meta).to_json()

    for attempt, metas in {"tree_search": [{"rewrite_faithful": True}, {"rewrite_faithful": False},
                                           {"rewrite_faithful": True}, {"rewrite_faithful": True}],
                           "debate": [{}]}.items():
        (tmp_path / attempt).mkdir()
        (tmp_path / attempt / "records.jsonl").write_text(
            "".join(record(attempt, f"p{i}", meta) + "\n" for i, meta in enumerate(metas)))
    report = write_report([tmp_path / "debate", tmp_path / "tree_search"], tmp_path / "report")
    assert "| rewrite fallback | – | 1/4 (25.0%) |" in report.read_text().splitlines()
    assert "Stop reasons: debate: terminated 1; tree_search: terminated 4" in report.read_text()  # not a dict
    attempts = json.loads((tmp_path / "report" / "report.json").read_text())["attempts"]
    assert attempts["tree_search"]["rewrites"] == {"checked": 4, "fallbacks": 1, "fallback_rate": 0.25}
    assert attempts["debate"]["rewrites"] is None


def _problem(i: int, subject: str, level: int) -> Problem:
    return Problem(id=f"p{i}", question=f"{i}?", answer=str(i), meta={"subject": subject, "level": level})


async def test_accuracy_on_fixed_fake_answers_gives_the_exact_numbers(tmp_path):
    # answers: p0 right (2 of 2 samples), p1 right in 1 of 2, p2 wrong, p3 nothing extracted
    script = {"p0": ["\\boxed{0}", "The answer is 0."], "p1": ["\\boxed{1}", "\\boxed{7}"], "p2": ["\\boxed{5}"] * 2,
              "p3": ["no idea", "none"]}

    class PerProblem(ScriptedLLM):
        async def complete(self, messages, *, n=1, role="default", **kwargs):
            key = next(k for k in script if messages[-1]["content"].startswith(k[1:] + "?"))
            completion = await super().complete(messages, n=n, role=role)
            return completion.__class__(**{**completion.__dict__, "texts": script[key][:n]})

    problems = [_problem(0, "Algebra", 1), _problem(1, "Algebra", 2), _problem(2, "Geometry", 2), _problem(3, "Geometry", 5)]
    llm, config = PerProblem(), AccuracyConfig(samples=2)
    run = Run("accuracy", RunConfig(out=str(tmp_path / "acc"), preflight=False), config, {"model": llm}, {})
    summary = await run.execute(problems, lambda p: judge_problem(p, config, llm))
    assert summary.done == 4
    rows = [json.loads(line) for line in (tmp_path / "acc" / "records.jsonl").read_text().splitlines()]
    from protocols.types import SampleSet

    result = summarize([SampleSet.model_validate(row) for row in rows])
    assert result["accuracy"] == round((1 + 0.5 + 0 + 0) / 4, 4) and result["pass_at_k"] == 0.5
    assert result["by_subject"]["Algebra"]["accuracy"] == 0.75 and result["by_subject"]["Geometry"]["accuracy"] == 0.0
    assert result["by_level"]["2"] == {"problems": 2, "accuracy": 0.25, "pass_at_k": 0.5}
    assert result["no_answer_extracted"] == 2
    assert result["truncated"] == 0 and result["truncation_rate"] == 0.0
    cut = SampleSet.model_validate(rows[3])
    cut.samples[0].finish_reason = "length"
    assert summarize([SampleSet.model_validate(rows[0]), cut])["truncation_rate"] == 0.25  # 1 of 4 answers cut
    assert rows[0]["samples"][1]["answer"] == "0"  # every extraction is kept for auditing
    again = await Run("accuracy", RunConfig(out=str(tmp_path / "acc"), preflight=False), config, {"model": llm},
                      {}).execute(problems, lambda p: judge_problem(p, config, llm))
    assert again.status == "nothing_to_do"


class MarkerScorer:
    """Flags exactly the steps that contain WRONG."""

    binary = True

    async def score(self, problem, steps):
        wrong = "WRONG" in steps[-1]
        return StepScore(value=0.0 if wrong else 1.0, correct=not wrong, reason="marker")


def _write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


async def _meta(path: str) -> dict:
    return metrics([await judge(item, MarkerScorer(), 0.5) for item in load_labelled(path)])


async def test_meta_evaluation_processbench_format_hand_computed(tmp_path):
    rows = [
        {"id": "a", "problem": "?", "steps": ["ok", "WRONG", "x"], "label": 1},   # caught exactly
        {"id": "b", "problem": "?", "steps": ["ok", "ok", "bad"], "label": 2},    # missed
        {"id": "c", "problem": "?", "steps": ["ok", "ok"], "label": -1},          # correct, not flagged
        {"id": "d", "problem": "?", "steps": ["WRONG", "ok"], "label": -1},       # correct, false alarm at step 0
    ]
    result = await _meta(_write(tmp_path / "pb.jsonl", rows))
    assert (result["acc_erroneous"], result["acc_correct"], result["processbench_f1"]) == (0.5, 0.5, 0.5)
    # steps scored: a: ok(tn) WRONG(tp); b: ok ok(tn, tn) bad(fn); c: ok ok (tn tn); d: WRONG (fp)
    assert (result["step_precision"], result["step_recall"], result["step_f1"]) == (0.5, 0.5, 0.5)
    assert result["agreement"] == 0.5 and result["steps_scored"] == 8


async def test_meta_evaluation_mr_gsm8k_and_prm800k_formats_hand_computed(tmp_path):
    mr = [{"uuid": "m1", "question": "?", "ground_truth_answer": 5, "model_output_steps": ["Step 1: ok", "Step 2: WRONG"],
           "model_output_solution_correctness": "wrong", "model_output_solution_first_error_step": 2},
          {"uuid": "m2", "question": "?", "ground_truth_answer": 5, "model_output_steps": ["Step 1: WRONG", "Step 2: x"],
           "model_output_solution_correctness": "wrong", "model_output_solution_first_error_step": 2}]
    result = await _meta(_write(tmp_path / "mr.jsonl", mr))
    # m1 caught at 0-based step 1; m2 flagged at step 0 although the labelled error is step 1
    assert (result["acc_erroneous"], result["acc_correct"], result["processbench_f1"]) == (0.5, None, None)
    assert result["agreement"] == 0.5
    prm = [{"instruction": "?", "responses": ["WRONG but given"], "next_response": "fine", "answer": None, "rating": 1},
           {"instruction": "?", "responses": [], "next_response": "WRONG", "answer": None, "rating": -1},
           {"instruction": "?", "responses": ["a"], "next_response": "neutral", "answer": "3", "rating": 0},
           {"instruction": "?", "responses": ["a"], "next_response": "ok", "answer": None, "rating": None}]
    items = load_labelled(_write(tmp_path / "prm.jsonl", prm))
    assert len(items) == 3 and items[0].judge_from == 1  # unrated rows are skipped; prefixes are context
    result = await _meta(str(tmp_path / "prm.jsonl"))
    assert (result["acc_erroneous"], result["acc_correct"], result["processbench_f1"]) == (1.0, 1.0, 1.0)
    assert result["steps_scored"] == 3


def test_unknown_format_names_the_line(tmp_path):
    from protocols.problems import ProblemSetError

    with pytest.raises(ProblemSetError, match=r"x\.jsonl:1: unknown format"):
        load_labelled(_write(tmp_path / "x.jsonl", [{"foo": 1}]))


def _run(module: str, *args: str, env=None, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.slow
def test_accuracy_and_reward_models_on_the_embedded_model(tmp_path, with_data_dir, embedded_api_base):
    env = {**os.environ, "LONGTHOUGHT_EMBEDDED_API_BASE": embedded_api_base}
    accuracy = _run("eval.accuracy", "--problems", "math500", "--limit", "3", "--answer-max-tokens", "64",
                    "--out", str(tmp_path / "acc"), env=env)
    assert accuracy.returncode == 0, accuracy.stderr[-2000:]
    result = json.loads((tmp_path / "acc" / "accuracy.json").read_text())
    assert result["problems"] == 3 and 0.0 <= result["accuracy"] <= 1.0 and result["by_subject"]
    meta = _run("eval.reward_models", "--scorer", "rollout", "--rollouts", "2", "--data", "processbench_math",
                "--limit", "3", "--out", str(tmp_path / "rm"), env=env)
    assert meta.returncode == 0, meta.stderr[-2000:]
    metrics_file = json.loads((tmp_path / "rm" / "metrics.json").read_text())
    assert metrics_file["processbench_math"]["samples"] + metrics_file["processbench_math"]["skipped_no_gold_answer"] == 3


@pytest.mark.slow
def test_ablation_then_report_with_plots(tmp_path, with_data_dir, embedded_api_base):
    import matplotlib.image

    env = {**os.environ, "LONGTHOUGHT_EMBEDDED_API_BASE": embedded_api_base}
    out = tmp_path / "ablation"
    ablation = _run("synthesis.ablate", "--problems", "math500", "--ids", "test/algebra/567.json", "--limit", "1",
                    "--out", str(out), "--critique_loop.max_turns", "2", "--debate.max_turns", "2", "--tree_search.depth", "2",
                    "--tree_search.policy_max_tokens", "32", "--critique_loop.policy_max_tokens", "32",
                    "--debate.policy_max_tokens", "32", env=env)
    assert ablation.returncode == 0, ablation.stderr[-3000:]
    summary = json.loads((out / "ablation.json").read_text())
    assert set(summary["attempts"]) == {"tree_search", "critique_loop", "debate", "human_annotation"}
    for attempt in summary["attempts"]:
        assert len((out / attempt / "records.jsonl").read_text().splitlines()) == 1
    report = _run("eval.report", str(out), "--out", str(out / "report"))
    assert report.returncode == 0, report.stderr[-2000:]
    text = (out / "report" / "report.md").read_text()
    assert "| measure | critique_loop | debate | human_annotation | tree_search |" in text
    pngs = sorted((out / "report").glob("*.png"))
    assert {png.stem for png in pngs} == {"tokens_per_thought", "backtracks_per_thought", "reflection_keywords"}
    assert all(f"]({png.name})" in text for png in pngs)
    assert all(matplotlib.image.imread(png).shape[0] > 100 for png in pngs)


def test_a_tree_search_thought_without_wait_has_no_wait_statistic(tmp_path):
    # Its tree holds the search's backtracks; none of them is a "wait" written in the thought.
    from protocols.types import Action, Problem, Record, Step, ThoughtTree

    tree = ThoughtTree()
    wrong = tree.add(0, step=Step(index=1, text="x = 5"), correct=False, action=Action.BACKTRACK)
    right = tree.add(0, step=Step(index=1, text="x = 4"), correct=True)
    leaf = tree.add(right.id, kind="answer", step=Step(index=2, text="So \\boxed{4}"), answer="4", correct=True)
    problem = Problem(id="t/1", question="2x = 8?", answer="4")
    record = Record(problem_id="t/1", attempt="tree_search", problem=problem, tree=tree, shortcut="x = 4",
                    long_thought="I try x = 5, which fails.\n\nSo x = 4 and \\boxed{4}.", final_answer="4",
                    correct=True, stop_reason="correct_leaf_found", meta={"trials": 1})
    (tmp_path / "records.jsonl").write_text(record.model_dump_json() + "\n")
    row = analyse([tmp_path])["tree_search"]
    assert wrong.action is Action.BACKTRACK and leaf.correct
    assert row["wait_changes_course"] is None  # was 1.0: the search's backtrack counted as a "wait"


@pytest.mark.parametrize("module", ["eval.thoughts", "eval.fidelity", "eval.report", "eval.viewer"])
def test_every_run_reader_takes_a_folder_of_runs_and_names_what_is_not_a_run(tmp_path, module):
    from protocols.types import Record

    ablation = tmp_path / "ablation"
    for attempt in ("debate", "tree_search"):
        (ablation / attempt).mkdir(parents=True)
        record = Record(problem_id="p1", attempt=attempt, problem=Problem(id="p1", question="1+1?", answer="2"),
                        long_thought="1 + 1 = 2, so \\boxed{2}.", stop_reason="terminated")
        (ablation / attempt / "records.jsonl").write_text(record.to_json() + "\n")
    (ablation / "ablation.json").write_text("{}")
    extra = ["--out", str(tmp_path / "report")] if module == "eval.report" else []
    bad = _run(module, str(ablation / "ablation.json"), *extra)
    assert bad.returncode == 2, bad.stderr
    line = bad.stderr.strip()
    assert line.count("\n") == 0 and "ablation.json: not a run" in line, line
    if module == "eval.viewer":
        from eval.viewer.data import Store

        assert len(Store([ablation]).runs) == 2  # the folder of runs is opened up (the server is not started here)
        return
    good = _run(module, str(ablation), *extra)
    assert good.returncode == 0, good.stderr[-2000:]


def test_reward_models_refuses_problems_and_data_that_disagree(tmp_path):
    result = _run("eval.reward_models", "--problems", "gsm8k_test", "--data", "mr_gsm8k", "--out", str(tmp_path))
    line = result.stderr.strip()
    assert result.returncode == 2 and line.count("\n") == 0 and "--data names the datasets to score" in line, line


def test_an_ablation_dry_run_estimates_every_attempt_and_writes_nothing(tmp_path, with_data_dir):
    result = _run("synthesis.ablate", "--problems", "math500", "--ids", "test/algebra/567.json", "--out",
                  str(tmp_path / "ablation"), "--dry-run", "--budget-cost", "1")
    text = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 0, text
    for attempt in ("tree_search", "critique_loop", "debate", "human_annotation"):
        assert f"{attempt}: dry run: 1 problems" in text, text
    assert text.count("nothing was spent, nothing written") == 4
    assert not (tmp_path / "ablation").exists()
