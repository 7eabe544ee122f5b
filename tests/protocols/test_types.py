import json

import pytest
from pydantic import ValidationError

from protocols.types import Action, Problem, Record, Step, StopReason, ThoughtTree, Turn, Usage, Verdict


def _record() -> Record:
    problem = Problem(id="p1", question="2x = 8. x?", answer="4", source="test", meta={"level": 1})
    tree = ThoughtTree()
    wrong = tree.add(0, step=Step(index=1, text="1. x = 3"), action=Action.BACKTRACK, correct=False,
                     verdict=Verdict(action=Action.BACKTRACK, reason="2*3 is 6", backtrack_to=0, raw="backtrack to 0"))
    tree.add(0, step=Step(index=1, text="1. x = 4"), action=Action.TERMINATE, correct=True, score=0.93, answer="4")
    tree.add(wrong.id, kind="reflection", step=Step(index=2, text="Wait, 2*3 = 6."), action=Action.REFLECT)
    return Record(
        problem_id="p1",
        attempt="debate",
        problem=problem,
        tree=tree,
        turns=[Turn(role="policy", content="1. x = 3", node_id=1), Turn(role="critic", content="backtrack", action="backtrack")],
        shortcut="1. x = 4",
        long_thought="1. x = 3\nWait...\n1. x = 4",
        final_answer="4",
        correct=True,
        stop_reason="terminated",
        usage={"policy": Usage(calls=2, prompt_tokens=10, completion_tokens=5, cost=None)},
    )


def test_record_round_trips_through_json_losslessly():
    record = _record()
    line = record.to_json()
    again = Record.from_json(line)
    assert again == record
    assert again.to_json() == line
    assert json.loads(line)["schema_version"] == 1
    assert again.tree.nodes[1].verdict.action is Action.BACKTRACK
    assert again.usage["policy"].cost is None


@pytest.mark.parametrize("where", ["record", "problem", "node", "turn"])
def test_unknown_fields_are_rejected(where):
    data = json.loads(_record().to_json())
    target = {"record": data, "problem": data["problem"], "node": data["tree"]["nodes"][1], "turn": data["turns"][0]}[where]
    target["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        Record.model_validate(data)


def test_action_vocabulary_is_exactly_four():
    assert {action.value for action in Action} == {"continue", "backtrack", "reflect", "terminate"}
    with pytest.raises(ValidationError):
        Verdict(action="give_up")


def test_stop_reasons_are_an_enum_stored_as_the_same_strings():
    # These strings are on disk in every records.jsonl written so far: renaming one breaks old runs.
    assert {reason.value for reason in StopReason} == {
        "terminated", "max_turns", "max_backtracks", "max_tokens", "correct_leaf_found", "no_correct_leaf", "no_steps",
        "expanded", "expansion_unfaithful"}
    record = _record().model_copy(update={"stop_reason": StopReason.MAX_BACKTRACKS})
    record = Record.model_validate(record.model_dump())
    assert json.loads(record.to_json())["stop_reason"] == "max_backtracks"
    assert type(record.stop_reason) is str and record.stop_reason == StopReason.MAX_BACKTRACKS
    assert Record.from_json(record.to_json()) == record
    data = json.loads(record.to_json()) | {"stop_reason": "gave_up"}
    with pytest.raises(ValidationError, match="stop_reason"):
        Record.model_validate(data)


def test_tree_paths_leaves_and_link_checks():
    tree = _record().tree
    assert tree.count_nodes() == 4
    assert [node.id for node in tree.path(3)] == [0, 1, 3]
    assert tree.depth(3) == 2
    assert sorted(node.id for node in tree.leaves()) == [2, 3]
    data = tree.model_dump()
    data["nodes"][2]["parent"] = 3  # a parent that comes later is not a tree
    with pytest.raises(ValidationError, match="earlier node"):
        ThoughtTree.model_validate(data)
    data = tree.model_dump()
    data["nodes"][0]["children"] = [1]  # node 2 claims parent 0 but 0 does not list it
    with pytest.raises(ValidationError, match="missing from its parent"):
        ThoughtTree.model_validate(data)


def test_record_problem_id_must_match_problem():
    data = json.loads(_record().to_json())
    data["problem_id"] = "other"
    with pytest.raises(ValidationError, match="differs from problem.id"):
        Record.model_validate(data)


def test_usage_adds_and_unknown_cost_stays_unknown():
    total = Usage(calls=1, prompt_tokens=3, completion_tokens=2, cost=0.5) + Usage(calls=1, completion_tokens=4, cost=0.25)
    assert (total.calls, total.total_tokens, total.cost) == (2, 9, 0.75)
    assert (total + Usage(calls=1, cost=None)).cost is None
