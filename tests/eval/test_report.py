"""The report's tables and plots from run cards alone: model stages, gains, reward models, thought statistics."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eval.accuracy import summarize
from eval.report import write_report
from eval.reward_models import Judged, metrics
from eval.report_tables import wilson
from eval.thoughts import analyse, measure
from protocols.render import long_thought
from protocols.types import Action, Problem, Record, Sample, SampleSet, Step, ThoughtTree, Turn, Verdict
from tests.conftest import REPO

MODEL_REASON = "I doubled wrong, let me redo it: 2 times 2 is 4"


def debate_record(problem_id: str = "t/1", subject: str = "Algebra", level: int = 2) -> Record:
    """A debate whose critic backtracks once, rendered by the real renderer: "Wait, ..." and "Let me go back to step
    2 and redo it." are ours, "let me" in the critic's reason is the model's."""
    tree = ThoughtTree()
    one = tree.add(0, step=Step(index=1, text="If x = 2 then x + x = 2x."), action=Action.CONTINUE,
                   verdict=Verdict(action=Action.CONTINUE, reason="Fine"))
    wrong = tree.add(one.id, step=Step(index=2, text="So 2x = 6."), action=Action.BACKTRACK, correct=False,
                     verdict=Verdict(action=Action.BACKTRACK, reason=MODEL_REASON, backtrack_to=2))
    right = tree.add(one.id, kind="answer", step=Step(index=2, text="2x = 4, and the answer is \\boxed{4}."),
                     action=Action.TERMINATE, correct=True, answer="4",
                     verdict=Verdict(action=Action.TERMINATE, reason="Checks out"))
    turns = [Turn(role="policy", content="1", node_id=one.id),
             Turn(role="critic", content="c", action=Action.CONTINUE, node_id=one.id),
             Turn(role="policy", content="2", node_id=wrong.id),
             Turn(role="critic", content="b", action=Action.BACKTRACK, node_id=wrong.id),
             Turn(role="policy", content="2", node_id=right.id),
             Turn(role="critic", content="t", action=Action.TERMINATE, node_id=right.id)]
    problem = Problem(id=problem_id, question="x = 2; 2x?", answer="4", source="math500",
                      meta={"subject": subject, "level": level})
    return Record(problem_id=problem_id, attempt="debate", problem=problem, tree=tree, turns=turns,
                  shortcut="1. If x = 2 ...", long_thought=long_thought(tree, turns, "4"), final_answer="4",
                  correct=True, stop_reason="terminated")


def test_template_keywords_are_counted_apart_from_the_models():
    record = debate_record()
    assert "Let me go back to step 2 and redo it." in record.long_thought and "Wait, " in record.long_thought
    thought = measure(record.long_thought, record)
    assert thought.split == "rendered"
    # ours: "Let me go back ...", "Let me try another way." (after the backtrack); the model's: its reason's "let me"
    assert thought.keywords["let me"] == 3 and thought.template_keywords["let me"] == 2
    assert thought.model_keywords["let me"] == 1
    assert thought.template_keywords["wait"] == 1 and thought.model_keywords["wait"] == 0  # "Wait, " is ours
    assert thought.model_keywords["if"] == 1 and thought.template_keywords["if"] == 0  # the step's "If"


def test_a_tree_search_draft_counts_its_phrases_and_a_rewrite_only_those_it_kept():
    problem = Problem(id="t/2", question="?", answer="4")
    draft = "1. Let me guess x = 5.\n\nBut 5 does not check out, so this line of reasoning is wrong.\n\n" \
            "Let me go back to step 1 and redo it.\n\n1. x = 4\n\nSo the solution is:\n1. x = 4"
    record = Record(problem_id="t/2", attempt="tree_search", problem=problem, long_thought=draft,
                    stop_reason="correct_leaf_found", meta={"trials": 1, "draft": draft})
    thought = measure(draft, record)
    assert (thought.split, thought.template_keywords["let me"], thought.model_keywords["let me"]) == ("phrases", 1, 1)
    rewritten = "Let me guess x = 5. Wait, 5 fails. Let me redo it: x = 4."
    record = record.model_copy(update={"long_thought": rewritten, "meta": {"rewrite": rewritten, "draft": draft}})
    thought = measure(rewritten, record)
    assert (thought.split, thought.template_keywords["let me"], thought.model_keywords["let me"]) == (
        "rewrite-kept-phrases", 0, 2)
    # A sentence of our draft the rewriter kept word for word is still ours.
    kept = "Let me guess x = 5. Wait, 5 fails. Let me go back to step 1 and redo it. x = 4."
    record = record.model_copy(update={"long_thought": kept, "meta": {"rewrite": kept, "draft": draft}})
    thought = measure(kept, record)
    assert (thought.template_keywords["let me"], thought.model_keywords["let me"]) == (1, 1)


def test_wilson_interval_is_inside_zero_one_and_around_the_accuracy():
    low, high = wilson(40, 50)
    assert 0 < low < 0.8 < high < 1 and round(low, 3) == 0.670 and round(high, 3) == 0.888
    assert wilson(0, 10)[0] == 0 and wilson(10, 10)[1] == 1 and wilson(0, 0) == (None, None)


# -- run directories written the way the commands write them --------------------------------------------------------

def _training_run(folder: Path, summary: dict, card: dict) -> Path:
    (folder / "final").mkdir(parents=True)
    (folder / "final" / "config.json").write_text("{}")
    (folder / "training_summary.json").write_text(json.dumps(summary))
    (folder / "config.yaml").write_text(yaml.safe_dump(card))
    return folder


def _sft(folder: Path, target: str, model: str) -> Path:
    # training/sft.py's summary keys, its flat config.yaml (training.common.write_config)
    summary = {"target": target, "model": model, "examples": 4, "truncated": 0, "longest_tokens": 300,
               "max_length": 300, "global_step": 2, "train_loss": 1.5, "final_model": str(folder / "final")}
    return _training_run(folder, summary, {"model": model, "target": target, "data": "runs/tree", "pairs": None})


def _accuracy(folder: Path, model: str, right: int, of: int = 10, cut: int = 0) -> Path:
    # eval.accuracy's files: records.jsonl of SampleSets, accuracy.json = summarize(rows) + model, config.yaml
    folder.mkdir(parents=True)
    rows = [SampleSet(problem_id=f"p{i}", problem=Problem(id=f"p{i}", question="?", answer="1",
                                                          meta={"subject": "Algebra", "level": 1}), model=model,
                      samples=[Sample(text="...", answer="1" if i < right else None, correct=i < right,
                                      finish_reason="length" if right <= i < right + cut else "stop")])
            for i in range(of)]
    (folder / "records.jsonl").write_text("".join(row.model_dump_json() + "\n" for row in rows))
    result = summarize(rows) | {"model": model, "problem_set": "math500", "failed": 0}
    (folder / "accuracy.json").write_text(json.dumps(result))
    (folder / "config.yaml").write_text(yaml.safe_dump({"attempt": "accuracy", "run": {"problems": "math500"},
                                                        "accuracy": {"model": model, "samples": 1}}))
    return folder


def _reward(out: Path, scorer: str, model: str, datasets: dict[str, list[Judged]]) -> Path:
    # eval.reward_models: OUT/<dataset>/{config.yaml,records.jsonl} and OUT/metrics.json
    results = {}
    for name, judged in datasets.items():
        (out / name).mkdir(parents=True)
        (out / name / "records.jsonl").write_text("".join(row.model_dump_json() + "\n" for row in judged))
        (out / name / "config.yaml").write_text(yaml.safe_dump({"attempt": "reward_models", "run": {"problems": name},
                                                               "reward_models": {"scorer": scorer, "data": name,
                                                                                 "scorer_model": model}}))
        results[name] = metrics(judged) | {"skipped_no_gold_answer": 0, "failed": 0}
    results["_config"] = {"scorer": scorer, "scorer_model": model, "prm_model": None, "threshold": 0.5}
    (out / "metrics.json").write_text(json.dumps(results))
    return out


def _judged(gold: int, predicted: int, n: int) -> Judged:
    return Judged(problem_id=f"j{n}", gold_first_error=gold, predicted_first_error=predicted,
                  steps=[{"index": 0, "value": 0.0, "flagged": predicted == 0, "reason": "", "gold_wrong": gold == 0}])


@pytest.fixture
def recipe_runs(tmp_path: Path) -> Path:
    """A recipe's runs/ folder whose directory names lie about what is inside."""
    runs = tmp_path / "runs"
    phase1 = _sft(runs / "sft-a", "solution", "embedded/smollm2-135m")
    _sft(runs / "shortcut-x", "journey", f"hf/{phase1}/final")  # a journey run in a folder named shortcut
    _sft(runs / "journey-y", "shortcut", "hf/runs/sft-a/final")  # and a shortcut run in one named journey
    dpo_summary = {"global_step": 2, "train_loss": 0.69, "final_model": "x", "max_length": 512,
                   "truncated_responses": 0, "longest_tokens": 100, "stage": "dpo", "pairs": {"pairs": 5, "problems": 2}}
    _training_run(runs / "shortcut-dpo", dpo_summary, {"model": "hf/runs/shortcut-x/final", "beta": 0.1})
    _accuracy(runs / "acc-1", "hf/runs/sft-a/final", 3)
    _accuracy(runs / "acc-2", "hf/runs/shortcut-x/final", 7, cut=1)  # relative to the folder above runs/
    _accuracy(runs / "acc-3", "hf/runs/journey-y/final", 5)
    _accuracy(runs / "acc-4", "hf/runs/shortcut-dpo/final", 8)
    _accuracy(runs / "acc-5", "openai/gpt-4o-mini", 6)
    _accuracy(runs / "acc-6", "hf/runs/deleted/final", 6)  # a trained model whose run is gone
    _reward(runs / "rm-judge", "llm-judge", "openai/gpt-4o-mini", {
        "processbench_math": [_judged(0, 0, 0), _judged(-1, -1, 1), _judged(0, -1, 2), _judged(-1, -1, 3)],
        "mr_gsm8k": [_judged(0, 0, 4), _judged(0, -1, 5)]})  # only wrong solutions: F1 undefined
    (runs / "debate").mkdir()
    (runs / "debate" / "records.jsonl").write_text(
        "".join(debate_record(f"t/{i}", ("Algebra", "Geometry")[i % 2], 1 + i % 3).to_json() + "\n" for i in range(4)))
    (runs / "debate" / "config.yaml").write_text(yaml.safe_dump({"attempt": "debate", "run": {"problems": "x"}}))
    return runs


def test_report_tables_from_run_cards(recipe_runs: Path, tmp_path: Path):
    out = tmp_path / "report"
    report = write_report([recipe_runs], out)
    data = json.loads((out / "report.json").read_text())
    stages = {row["run"].rsplit("/", 1)[-1]: row["stage"] for row in data["models"]}
    assert stages == {"acc-1": "phase1", "acc-2": "journey", "acc-3": "shortcut", "acc-4": "dpo", "acc-5": "base/other",
                      "acc-6": "base/other"}
    by_stage = {row["stage"]: row for row in data["models"]}
    assert by_stage["journey"]["truncated"] == 1 and by_stage["journey"]["trained_from"].endswith("sft-a/final")
    for row in data["models"]:
        assert row["ci_low"] < row["accuracy"] < row["ci_high"]
    gains = {gain["gain"]: gain["points"] for gain in data["gains"]}
    assert gains == {"shortcut - phase1": 20.0, "journey - phase1": 40.0, "journey - shortcut": 20.0,
                     "dpo - journey": 10.0}
    text = report.read_text()
    assert "| journey SFT − shortcut SFT | math500 | +20.0 |" in text
    assert "| base/other | `openai/gpt-4o-mini` |" in text
    assert "| base/other | `hf/runs/deleted/final` (its training run was not found) |" in text

    reward = {row["dataset"]: row for row in data["reward_models"]}
    assert reward["mr_gsm8k"]["processbench_f1"] is None and reward["mr_gsm8k"]["acc_erroneous"] == 0.5
    assert reward["processbench_math"]["processbench_f1"] == round(2 * 0.5 * 1.0 / 1.5, 4)
    mr_line = next(line for line in text.splitlines() if "| mr_gsm8k |" in line)
    assert "| 0.5 | – | – ¹ |" in mr_line and "MR-GSM8K subset holds only wrong solutions" in text

    attempt = data["thoughts"]["attempt"][0]
    # 2 ours, 1 the model's, in each of the four thoughts
    assert attempt["let me_template_per_1k"] == pytest.approx(2 * attempt["let me_model_per_1k"], abs=0.02)
    assert attempt["let me_model_per_1k"] > 0 and attempt["wait_model_per_1k"] == 0 < attempt["wait_template_per_1k"]
    assert {row["level"] for row in data["thoughts"]["level"]} == {"1", "2", "3"}
    assert {row["subject"] for row in data["thoughts"]["subject"]} == {"Algebra", "Geometry"}
    # eval.thoughts reads the same split
    assert analyse([recipe_runs / "debate"])["debate"]["let me_template_per_1k"] == attempt["let me_template_per_1k"]

    # every table row links to a run card that exists
    first_cells = r"\| (SFT phase 1 \(solutions\)|shortcut SFT|journey SFT|DPO|base/other|llm-judge|debate) \|"
    linked = [line for line in text.splitlines() if re.match(first_cells, line)]
    assert len(linked) == 6 + 2 + 1 + 2 + 3  # models, reward rows, attempt, subjects, levels
    for line in linked:
        targets = re.findall(r"\]\(([^)]+)\)", line)
        assert targets and all((out / target).is_file() for target in targets), line
    assert any("config.yaml" in target for target in re.findall(r"\]\(([^)]+)\)", linked[0]))
    assert {path.name for path in out.glob("*.png")} == {"tokens_per_thought.png", "backtracks_per_thought.png",
                                                         "reflection_keywords.png", "accuracy.png"}


def test_oracle_data_is_marked_in_a_banner_and_every_table_and_an_oracle_judge_is_no_reward_model(
        recipe_runs: Path, tmp_path: Path):
    clean = write_report([recipe_runs], tmp_path / "clean").read_text()
    assert "ORACLE DATA" not in clean and "**oracle:" not in clean and "Pipeline checks" not in clean
    # The oracle judge (a rehearsal), a rehearsal debate marked in its rows, and the oracle evaluated as a model.
    _reward(recipe_runs / "rm-oracle", "llm-judge", "oracle/reference", {"processbench_gsm8k": [_judged(0, 0, 9)]})
    rehearsal = recipe_runs / "rehearsal"
    rehearsal.mkdir()
    marked = [debate_record(f"r/{i}").model_copy(update={"meta": {"oracle_roles": ["critic", "policy"]}})
              for i in range(2)]
    (rehearsal / "records.jsonl").write_text("".join(record.to_json() + "\n" for record in marked))
    _accuracy(recipe_runs / "acc-oracle", "oracle/reference", 10)
    out = tmp_path / "marked"
    text = write_report([recipe_runs], out).read_text()
    data = json.loads((out / "report.json").read_text())
    lines = text.splitlines()
    assert lines[2].startswith("> **⚠ ORACLE DATA — a rehearsal, not a model's results")
    assert data["oracle"]["any"] and data["oracle"]["attempts"] == {"debate": ["critic", "policy"]}
    # the attempt table has one debate column over both debate runs: it carries the oracle roles
    assert "| oracle | **oracle: critic, policy** |" in lines
    assert any(line.startswith("| debate | 6 |") and "**oracle: critic, policy**" in line for line in lines)
    oracle_row = next(line for line in lines if "`oracle/reference`" in line and "base/other" in line)
    assert "**oracle: model** |" in oracle_row
    assert next(line for line in lines if "`openai/gpt-4o-mini`" in line and "base/other" in line).count("| – |") >= 1
    # the oracle judge is apart, under a heading that says it is no reward-model result
    assert [row["scorer_model"] for row in data["reward_models"]] == ["openai/gpt-4o-mini"] * 2
    assert [row["dataset"] for row in data["pipeline_checks"]] == ["processbench_gsm8k"]
    reward_part = text.split("## Reward models", 1)[1].split("\n## ", 1)[0]
    assert "oracle/reference" not in reward_part
    checks = text.split("## Pipeline checks (oracle judge, rehearsal)", 1)[1].split("\n## ", 1)[0]
    assert "**Not a reward-model result.**" in checks and "| llm-judge | `oracle/reference` | processbench_gsm8k |" in checks
    assert "| **oracle: scorer** |" in checks and "| – | [card]" in reward_part
    # every thought-statistics row has the oracle column
    for table in ("attempt", "subject", "level"):
        assert all("oracle_roles" in row for row in data["thoughts"][table])


def test_a_model_trained_on_oracle_data_is_marked_by_its_dataset_card(recipe_runs: Path, tmp_path: Path):
    from training.formats import DatasetCard, write_dataset

    card = DatasetCard("journey", "sft", ["runs/rehearsal"], {"rehearsal": {"config": None, "manifest": {
        "models": {"policy": "oracle/reference-e30", "critic": "oracle/reference"}}}})
    write_dataset([{"prompt": "p", "completion": "c", "id": "1"}], recipe_runs / "shortcut-x" / "dataset", card)
    data = json.loads((write_report([recipe_runs], tmp_path / "r").parent / "report.json").read_text())
    marks = {row["run"].rsplit("/", 1)[-1]: row["oracle"] for row in data["models"]}
    assert marks["acc-2"] == "training data" and marks["acc-1"] is None and data["oracle"]["any"]


def test_an_accuracy_run_without_a_model_is_one_line(tmp_path: Path):
    run = _accuracy(tmp_path / "acc", "openai/x", 1, of=2)
    (run / "config.yaml").write_text(yaml.safe_dump({"attempt": "accuracy", "accuracy": {}}))
    (run / "accuracy.json").write_text(json.dumps({"problems": 2, "accuracy": 0.5}))
    result = subprocess.run([sys.executable, "-m", "eval.report", str(run), "--out", str(tmp_path / "r")], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "config.yaml: names no model" in result.stderr


@pytest.mark.slow
def test_report_from_a_real_oracle_debate(tmp_path: Path, with_data_dir):
    out = tmp_path / "debate"
    run = subprocess.run([sys.executable, "-m", "synthesis.debate", "--problems", "math500", "--limit", "3",
                          "--policy-model", "oracle/reference-e30", "--critic-model", "oracle/reference",
                          "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    (tmp_path / "ablation.json").write_text("{}")  # a folder of runs holds files that are no runs
    write_report([tmp_path], tmp_path / "report")
    data = json.loads((tmp_path / "report" / "report.json").read_text())
    debate = data["attempts"]["debate"]
    assert debate["keyword_split"] == {"rendered": 3}  # the current renderer reproduces every thought
    # the oracle writes reference solutions: its reflection words are the templates', which must not pass as its own
    template = debate["reflection_words_template_per_1k"]
    assert debate["reflection_words_per_1k"] == pytest.approx(debate["reflection_words_model_per_1k"] + template,
                                                              abs=0.02)
    assert debate["backtracks_per_thought"] == 0 or template > 0
    assert all(row["level"] != "unknown" and row["runs"] == [str(out)] for row in data["thoughts"]["level"])
    assert sorted(data["figures"]) == ["backtracks_per_thought.png", "reflection_keywords.png",
                                       "tokens_per_thought.png"]


def test_one_reward_dataset_run_alone_gives_the_same_row(recipe_runs: Path, tmp_path: Path):
    from eval.report_tables import reward_rows
    from eval.run_cards import expand_inputs

    whole = {row["dataset"]: row for row in reward_rows(expand_inputs([recipe_runs / "rm-judge"]).reward)}
    alone = reward_rows(expand_inputs([recipe_runs / "rm-judge" / "mr_gsm8k"]).reward)
    assert len(alone) == 1
    assert {key: value for key, value in alone[0].items() if key != "threshold"} == {
        key: value for key, value in whole["mr_gsm8k"].items() if key != "threshold"}


def test_a_recipe_folder_with_an_ablation_inside_reports_its_attempts(recipe_runs: Path):
    from eval.run_cards import expand_inputs

    ablation = recipe_runs / "tree"  # the recipe's stage 2 run as synthesis.ablate: OUT/<attempt>/
    (ablation / "debate").mkdir(parents=True)
    (ablation / "debate" / "records.jsonl").write_text((recipe_runs / "debate" / "records.jsonl").read_text())
    (ablation / "ablation.json").write_text("{}")
    (recipe_runs / "dpo-run" / "samples").mkdir(parents=True)  # a training run's samples are not long thoughts
    (recipe_runs / "dpo-run" / "samples" / "records.jsonl").write_text("{}\n")
    inputs = expand_inputs([recipe_runs])
    assert inputs.records == [recipe_runs / "debate", ablation / "debate"]
    assert len(inputs.accuracy) == 6 and inputs.reward == [recipe_runs / "rm-judge"]
