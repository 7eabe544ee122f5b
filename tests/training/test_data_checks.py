"""Training exports are decontaminated and deduplicated by default: a planted MATH500 problem and a duplicate are
left out of SFT rows, and the dataset card counts them per eval set."""

import json

import pytest

from protocols.problems import load
from protocols.types import Problem, Record
from training.sft import SFTScriptConfig, build_rows

QUESTIONS = ["A farmer has 17 sheep and buys 5 more each week. How many sheep does the farmer own after 9 weeks?",
             "A tank holds 120 litres and leaks 3 litres an hour. After how many hours is it exactly half full?"]


def _record(pid: str, question: str, thought: str) -> Record:
    problem = Problem(id=pid, question=question, answer="62", source="hand")
    return Record(problem_id=pid, attempt="debate", problem=problem, stop_reason="terminated", correct=True,
                  shortcut=f"1. {thought}", long_thought=f"1. {thought} Wait, let me check.\n\n1. {thought}",
                  final_answer="62")


@pytest.fixture
def math500(data_dir, monkeypatch):
    monkeypatch.setenv("LONGTHOUGHT_DATA_DIR", str(data_dir))
    return load("math500")


def test_sft_rows_leave_out_a_planted_eval_problem_and_a_duplicate_and_the_card_counts_them(tmp_path, math500):
    planted = next(p for p in math500 if len(p.question.split()) > 30)
    records = [_record("clean", QUESTIONS[0], "17 + 5 * 9 = 62 sheep in all after the nine weeks."),
               _record("planted", "Here is a question for you. " + planted.question, "Some steps of my own here."),
               _record("copy", QUESTIONS[0].upper(), "Seventeen and forty-five make sixty-two sheep."),
               _record("tank", QUESTIONS[1], "Half of 120 is 60, and 60 / 3 = 20 hours of leaking.")]
    run = tmp_path / "run"
    run.mkdir()
    (run / "records.jsonl").write_text("".join(record.model_dump_json() + "\n" for record in records))
    for target in ("journey", "shortcut"):  # both targets keep exactly the same problems
        rows, card = build_rows(SFTScriptConfig(data=str(run), target=target, require_trial=False,
                                                   eval_sets="math500"))
        assert [row["id"] for row in rows] == ["clean", "tank"]
    stats = card.stats
    assert stats["decontamination"]["eval_sets"]["math500"]["contaminated"] == 1
    assert stats["deduplication"]["problems"]["exact_duplicates"] == 1
    assert '"math500"' in card.render(len(rows)) and '"n": 8' in card.render(len(rows))
    rows, card = build_rows(SFTScriptConfig(data=str(run), target="journey", require_trial=False,
                                            decontaminate="report", dedup=False, eval_sets="math500"))
    assert len(rows) == 4 and card.stats["decontamination"]["dropped"] == 0


def test_phase1_solution_rows_are_decontaminated_too(tmp_path, math500):
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps(row) + "\n" for row in [
        {"id": "mine", "problem": QUESTIONS[1], "answer": "20", "solution": "Half is 60 litres; 60 / 3 = 20."},
        {"id": "eval", "problem": math500[7].question, "answer": math500[7].answer,
         "solution": math500[7].meta["solution"]}]))
    rows, card = build_rows(SFTScriptConfig(data=str(problems), target="solution", eval_sets="math500"))
    assert [row["id"] for row in rows] == ["mine"] and card.stats["decontamination"]["contaminated"] == 1
