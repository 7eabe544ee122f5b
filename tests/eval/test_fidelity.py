"""The fidelity counts can fail: each invariant, broken on purpose, is counted."""

from agents.backends.oracle.reference import reference_for, seeded, wrong_variant
from eval.fidelity import Fidelity, measure
from protocols.loop import LoopState
from protocols.render import long_thought, shortcut
from protocols.types import Action, Problem, Record, Step, ThoughtTree, Verdict

SOLUTION = ("Subtracting 3 from both sides gives $2x = 8$.  Dividing both sides by 2 gives $x = 4$.  "
            "Checking, $2 \\cdot 4 + 3 = 11$, so the answer is $\\boxed{4}$.")
PROBLEM = Problem(id="f/1", question="Solve 2x + 3 = 11 for x.", answer="4", meta={"solution": SOLUTION})
REFERENCE = reference_for(PROBLEM)
WRONG, SLIP = wrong_variant(REFERENCE, 2, seeded(1))


def _debate(verdicts: list[tuple[str, str, int | None]], steps: list[str]) -> Record:
    state = LoopState()
    for text, (action, reason, target) in zip(steps, verdicts, strict=True):
        index = state.next_index()
        last = index == len(REFERENCE)
        state.add_step(text, answer="4" if last and "boxed{4}" in text else None,
                       correct=True if last and "boxed{4}" in text else None)
        state.apply(Verdict(action=Action(action), reason=reason, backtrack_to=target))
    final = state.final_node()
    return Record(problem_id=PROBLEM.id, attempt="debate", problem=PROBLEM, tree=state.tree, turns=state.turns,
                  shortcut=shortcut(state.tree, final), long_thought=long_thought(state.tree, state.turns, "4"),
                  final_answer="4", correct=True, stop_reason="terminated")


def _counts(record: Record) -> Fidelity:
    result = Fidelity(problems=1)
    measure(record, result)
    return result


def test_a_caught_slip_counts_as_caught_and_nothing_else():
    steps = [REFERENCE.step(1), WRONG, *REFERENCE.steps()[1:]]
    record = _debate([("continue", "", None), ("backtrack", SLIP.reason(), 2), ("continue", "", None),
                      ("terminate", "", None)], steps)
    result = _counts(record)
    assert (result.injected, result.caught_and_corrected, result.wrong_on_shortcut) == (1, 1, 0)
    assert (result.misnarrated, result.leaks, result.journeys) == (0, 0, 1) and result.holds()


def test_a_slip_the_critic_let_through_is_counted_on_the_shortcut():
    record = _debate([("continue", "", None), ("continue", "", None), ("terminate", "", None)],
                     [REFERENCE.step(1), WRONG, REFERENCE.step(3)])
    result = _counts(record)
    assert result.caught_and_corrected == 0 and result.wrong_on_shortcut == 1 and not result.holds()


def test_a_right_step_called_wrong_is_misnarrated_and_a_grader_voice_leaks():
    record = _debate([("backtrack", "The student made an error.", 1), *[("continue", "", None)] * 2,
                      ("terminate", "", None)], [REFERENCE.step(1), *REFERENCE.steps()])
    record = record.model_copy(update={"long_thought": record.long_thought + "\n\nThe student made an error."})
    result = _counts(record)
    assert result.misnarrated == 1 and result.leaks == 1 and not result.holds()


def test_a_tree_search_trial_of_right_steps_is_misnarrated():
    tree = ThoughtTree()
    pruned = tree.add(0, step=Step(index=1, text=REFERENCE.step(1)), correct=True)
    path = tree.add(0, step=Step(index=1, text=REFERENCE.step(1)), correct=True)
    two = tree.add(path.id, step=Step(index=2, text=REFERENCE.step(2)), correct=True)
    leaf = tree.add(two.id, kind="answer", step=Step(index=3, text=REFERENCE.step(3)), answer="4", correct=True)
    record = Record(problem_id=PROBLEM.id, attempt="tree_search", problem=PROBLEM, tree=tree,
                    shortcut="\n".join(f"{i}. {s}" for i, s in enumerate(REFERENCE.steps(), 1)), long_thought="...",
                    final_answer="4", correct=True, stop_reason="correct_leaf_found",
                    meta={"trials": 1, "trial_branches": [[pruned.id]]})
    assert _counts(record).misnarrated == 1 and leaf.correct
