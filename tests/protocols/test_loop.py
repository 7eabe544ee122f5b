import pytest

from protocols.actions import parse_verdict
from protocols.loop import LoopLimits, LoopState, StopReason
from protocols.render import long_thought, shortcut
from protocols.types import Action, Verdict


@pytest.mark.parametrize(
    "text,action,target,parsed",
    [
        ('{"action": "backtrack", "step": 2, "reason": "sign error"}', "backtrack", 2, True),
        ("ACTION: backtrack to 2\nREASON: the sum is wrong", "backtrack", 2, True),
        ("action: Continue\nreason: fine", "continue", None, True),
        ("I think we should REFLECT here, the units are off.", "reflect", None, True),
        ("**Action**: terminate", "terminate", None, True),
        ("Backtrack to step 1 because 2x=8 means x=4", "backtrack", 1, True),
        ("Looks good to me!", "reflect", None, False),
        ("", "reflect", None, False),
    ],
)
def test_parse_verdict_is_lenient(text, action, target, parsed):
    verdict = parse_verdict(text)
    assert (verdict.action.value, verdict.backtrack_to, verdict.parsed) == (action, target, parsed)
    assert verdict.raw == text


def test_reasons_are_kept():
    assert parse_verdict("ACTION: backtrack to 2\nREASON: the sum is wrong").reason == "the sum is wrong"
    assert parse_verdict("Continue, the algebra is right.").reason == "the algebra is right"


def _verdict(action: str, reason: str = "", to: int | None = None) -> Verdict:
    return Verdict(action=Action(action), reason=reason, backtrack_to=to, raw=f"{action} {reason}")


def test_continue_extends_the_path():
    state = LoopState()
    first = state.add_step("x + x = 8")
    state.apply(_verdict("continue"))
    second = state.add_step("x = 4", answer="4", correct=True)
    assert [n.id for n in state.path_steps()] == [first.id]
    assert second.parent == first.id and second.step.index == 2


def test_backtrack_moves_frontier_and_keeps_the_branch():
    state = LoopState()
    one = state.add_step("a")
    state.apply(_verdict("continue"))
    two = state.add_step("b")
    state.apply(_verdict("continue"))
    three = state.add_step("c")
    state.apply(_verdict("backtrack", "b was wrong", to=2))
    assert state.frontier == one.id and state.backtracks == 1
    assert state.feedback == "b was wrong"
    replacement = state.add_step("b'")
    assert replacement.parent == one.id and replacement.step.index == 2
    assert state.tree.nodes[three.id].parent == two.id  # abandoned branch stays in the tree
    assert state.tree.count_nodes() == 5


def _five_step_path() -> tuple[LoopState, list]:
    state = LoopState(limits=LoopLimits(max_turns=20))
    steps = []
    for text in ("s1", "s2", "s3", "s4"):
        steps.append(state.add_step(text))
        state.apply(_verdict("continue"))
    steps.append(state.add_step("s5"))
    return state, steps


@pytest.mark.parametrize("target", [1, 2, 3, 4, 5])
def test_backtrack_to_n_names_the_first_wrong_step(target):
    # One meaning everywhere (prompts, state machine, renderer, README): N is the first wrong step; the path is
    # cut back to step N-1 and the next proposal is a new step N. Step N never stays on the path.
    state, steps = _five_step_path()
    state.apply(_verdict("backtrack", "wrong", to=target))
    assert [node.step.text for node in state.path_steps()] == [f"s{i}" for i in range(1, target)]
    assert all(steps[i].correct is False for i in range(target - 1, 5))
    assert all(steps[i].correct is None for i in range(target - 1))
    assert state.add_step("new").step.index == target


@pytest.mark.parametrize("target", [None, 0, 6, 99])
def test_backtrack_without_a_usable_target_undoes_the_judged_step(target):
    state, steps = _five_step_path()
    state.apply(_verdict("backtrack", "no", to=target))
    assert state.frontier == steps[3].id and steps[4].correct is False and steps[3].correct is None


def test_reflect_adds_a_reflection_and_asks_for_a_revision():
    state = LoopState()
    step = state.add_step("x = 3")
    state.apply(_verdict("reflect", "2 * 3 is 6, not 8"))
    reflection = state.tree.nodes[step.children[0]]
    assert reflection.kind == "reflection" and reflection.step.text == "2 * 3 is 6, not 8"
    assert state.frontier == 0 and state.feedback == "2 * 3 is 6, not 8"
    revised = state.add_step("x = 4")
    assert revised.parent == 0 and revised.step.index == 1


def test_terminate_ends_the_episode():
    state = LoopState()
    state.add_step("x = 4", answer="4", correct=None)
    state.apply(_verdict("terminate"))
    assert state.done and state.stop_reason == StopReason.TERMINATED
    with pytest.raises(RuntimeError, match="already stopped"):
        state.add_step("more")


def test_a_wrong_answer_cannot_be_accepted_and_a_right_one_ends_it():
    state = LoopState()
    state.add_step("x = 3", answer="3", correct=False)
    assert state.apply(_verdict("terminate")) is Action.REFLECT
    state.add_step("x = 4", answer="4", correct=True)
    assert state.apply(_verdict("continue")) is Action.TERMINATE
    assert state.overridden_verdicts == 2 and state.stop_reason == StopReason.TERMINATED


@pytest.mark.parametrize(
    "limits,actions,reason",
    [
        (LoopLimits(max_turns=3), ["continue"] * 5, StopReason.MAX_TURNS),
        (LoopLimits(max_backtracks=1), ["backtrack"] * 5, StopReason.MAX_BACKTRACKS),
    ],
)
def test_limits_end_with_a_named_reason(limits, actions, reason):
    state = LoopState(limits=limits)
    for action in actions:
        if state.done:
            break
        state.add_step("step")
        state.apply(_verdict(action))
    assert state.stop_reason == reason


def test_token_limit():
    state = LoopState(limits=LoopLimits(max_problem_tokens=100))
    state.add_step("a")
    state.apply(_verdict("continue"))
    state.add_tokens(150)
    assert state.stop_reason == StopReason.MAX_TOKENS


def test_rendering_shortcut_and_long_thought():
    state = LoopState()
    state.add_step("2x = 8, so x = 3", answer=None)
    state.apply(_verdict("backtrack", "2 * 3 is 6.", to=1))
    state.add_step("Divide both sides by 2.")
    state.apply(_verdict("continue"))
    state.add_step("x = 5", answer="5", correct=False)
    state.apply(_verdict("reflect", "8 / 2 is 4."))
    final = state.add_step("x = \\boxed{4}", answer="4", correct=True)
    state.apply(_verdict("terminate"))
    assert shortcut(state.tree, final) == "1. Divide both sides by 2.\n2. x = \\boxed{4}"
    text = long_thought(state.tree, state.turns, "4")
    for piece in ("x = 3", "2 * 3 is 6.", "Let me start over.", "Instead, divide both sides by 2.",
                  "The answer 5 is not correct.", "8 / 2 is 4.", "\\boxed{4}"):
        assert piece in text
    assert text.index("x = 3") < text.index("start over") < text.index("divide") < text.index("x = 5")
    assert long_thought(state.tree, state.turns, "4") == text  # deterministic


def test_the_long_thought_says_which_step_is_redone():
    state = LoopState()
    state.add_step("2x = 8")
    state.apply(_verdict("continue"))
    state.add_step("x = 16")
    state.apply(_verdict("backtrack", "I multiplied instead of dividing.", to=2))
    state.add_step("x = \\boxed{4}", answer="4", correct=True)
    state.apply(_verdict("terminate"))
    text = long_thought(state.tree, state.turns, "4")
    assert "Let me go back to step 2 and redo it." in text and "2. Alternatively" not in text.split("redo it.")[0]


@pytest.mark.parametrize("sees_check,feedback", [(False, "The answer 5 is not correct. Let me think again."),
                                                 (True, "8 / 2 is 4")])
@pytest.mark.parametrize("action", ["reflect", "backtrack"])
def test_after_a_wrong_answer_the_next_step_hears_the_check(sees_check, feedback, action):
    # One rule for every attempt: a judge that never saw the check (the critique loop's self-critic) cannot say the
    # answer failed it, so the negative signal is the feedback; a judge told the result (the debate's critic) says.
    state = LoopState(has_gold_answer=True, judge_sees_answer_check=sees_check)
    state.add_step("x = 5", answer="5", correct=False)
    state.apply(_verdict(action, "8 / 2 is 4", to=1))
    assert state.feedback == feedback
    state.add_step("x = 8 / 2")  # no answer, no check: the judge's reason, even once a backtrack marks it wrong
    state.apply(_verdict("backtrack", "halve it", to=1))
    assert state.feedback == "halve it"
