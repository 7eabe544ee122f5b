"""Traversal properties over many random trees, and the rewrite's faithfulness check."""

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.render import path_text
from protocols.types import Step, ThoughtTree, Verdict
from synthesis.rewrite import check_faithful
from synthesis.traverse import DRAFT_SENTENCES, GO_BACK, START_OVER, best_correct_leaf, dfs_draft, known_wrong


@st.composite
def trees(draw):
    """A random tree of depth <= 4 and width <= 3 whose leaves are answers; at least one is correct."""
    tree = ThoughtTree()
    frontier = [0]
    depth = draw(st.integers(1, 4))
    for level in range(1, depth + 1):
        next_frontier = []
        for parent in frontier:
            for _ in range(draw(st.integers(1 if parent == frontier[0] else 0, 3))):
                node = tree.add(parent, step=Step(index=level, text=f"s{len(tree.nodes)} = {len(tree.nodes) * 7}"))
                if draw(st.booleans()):
                    node.verdict = Verdict(action="backtrack", reason=f"bad {node.id}")
                    node.correct = False
                next_frontier.append(node.id)
        frontier = next_frontier or frontier
    for leaf in tree.leaves():
        leaf.kind = "answer"
        leaf.answer = str(leaf.id)
        leaf.correct = False
    chosen = draw(st.sampled_from(tree.leaves()))
    chosen.correct = True
    return tree


@settings(max_examples=150, deadline=None)
@given(tree=trees(), trials=st.integers(0, 3), seed=st.integers(0, 10_000))
def test_dfs_long_thought_properties(tree, trials, seed):
    leaf = best_correct_leaf(tree)
    draft = dfs_draft(tree, leaf, trials_per_node=trials, seed=seed)
    # ends on the one final answer, never on a restated shortcut
    assert draft.text.endswith(f"So the final answer is $\\boxed{{{leaf.answer}}}$.")
    assert draft.text.count("final answer") == 1
    assert draft.text.count(path_text(tree, leaf).splitlines()[-1]) == 1  # the shortcut's steps are not restated
    # every wrong end is followed at once by a backtrack
    kinds = [event.kind for event in draft.events]
    for position, kind in enumerate(kinds):
        if kind == "wrong":
            assert kinds[position + 1] == "backtrack"
    # trials per node never exceed the limit, and only nodes on the correct path branch
    path_ids = {node.id for node in tree.path(leaf.id)}
    assert all(count <= trials for count in draft.trials.values())
    assert set(draft.trials) <= path_ids
    # every off-path excursion is known wrong: it ends on a step judged wrong or on a wrong final answer,
    # and every step of it lies in a known-wrong subtree
    for position, event in enumerate(draft.events):
        if event.kind == "wrong":
            node = tree.nodes[event.node]
            assert node.correct is False
            assert known_wrong(tree, node)
    # the correct path appears in order
    steps = draft.steps_in_order()
    on_path = [n.id for n in tree.path(leaf.id)[1:]]
    positions = [max(i for i, s in enumerate(steps) if s == node) for node in on_path]
    assert positions == sorted(positions)
    # same seed, same text
    assert dfs_draft(tree, leaf, trials_per_node=trials, seed=seed).text == draft.text


def test_trials_explore_off_path_branches_with_reasons():
    tree = ThoughtTree()
    right = tree.add(0, step=Step(index=1, text="2x = 8 so x = 4"), kind="answer", answer="4", correct=True)
    wrong = tree.add(0, step=Step(index=1, text="x = 3"), correct=False,
                     verdict=Verdict(action="backtrack", reason="2 * 3 is 6, not 8"))
    draft = dfs_draft(tree, right, trials_per_node=1, seed=0)
    assert [event.kind for event in draft.events] == ["step", "wrong", "backtrack", "step", "summary"]
    assert "2 * 3 is 6, not 8" in draft.text and any(sentence in draft.text for sentence in START_OVER)
    assert draft.events[0].node == wrong.id
    assert dfs_draft(tree, right, trials_per_node=0).events[0].node == right.id


def test_faithfulness_catches_a_rewrite_that_drops_a_wrong_step():
    steps = ["2x = 8, so x = 3", "2 * 3 = 6, not 8", "x = 4"]
    assert check_faithful(steps, "I first thought 2x = 8 gives x = 3, but 2 times 3 is 6, not 8. So x = 4.").faithful
    dropped = check_faithful(steps, "From 2x = 8, x = 4.")
    assert not dropped.faithful and dropped.missing == ["2x = 8, so x = 3"]
    reordered = check_faithful(steps, "x = 4. Earlier I said 2x = 8, so x = 3, and 2 * 3 = 6, not 8.")
    assert not reordered.faithful


def _root_with(*children):
    tree = ThoughtTree()
    right = tree.add(0, step=Step(index=1, text="2x = 8 so x = \\boxed{4}"), kind="answer", answer="4", correct=True)
    for fields in children:
        tree.add(0, **fields)
    return tree, right


def test_a_pruned_step_the_judge_approved_is_never_narrated_as_wrong():
    # The beam kept K of several correct steps; the others were pruned, never shown wrong.
    tree, right = _root_with(
        {"step": Step(index=1, text="Halve both sides."), "correct": True,
         "verdict": Verdict(action="backtrack", reason="I halve both sides, which is right.")})
    draft = dfs_draft(tree, right, trials_per_node=3)
    assert [event.kind for event in draft.events] == ["step"]  # the last step states the answer: said once
    assert draft.no_trial == 1 and "Halve" not in draft.text


def test_an_unexpanded_step_under_a_scalar_scorer_gets_no_trial_and_no_bookkeeping():
    tree, right = _root_with(
        {"step": Step(index=1, text="x = 3"), "score": 0.0,
         "verdict": Verdict(action="backtrack", reason="", raw="0/4 rollouts reached the gold answer")})
    draft = dfs_draft(tree, right, trials_per_node=1)
    assert "x = 3" not in draft.text and "rollouts" not in draft.text and draft.no_trial == 1


def test_a_subtree_of_wrong_answers_is_explored_with_a_neutral_reason():
    tree, right = _root_with({"step": Step(index=1, text="x = 3 + 0"), "score": 0.25,
                              "verdict": Verdict(action="continue", raw="1/4 rollouts reached the gold answer")})
    below = tree.add(2, kind="answer", step=Step(index=2, text="So x = \\boxed{3}"), answer="3", correct=False,
                     verdict=Verdict(action="terminate", raw="0/4 rollouts reached the gold answer"))
    draft = dfs_draft(tree, right, trials_per_node=1)
    assert [event.kind for event in draft.events] == ["step", "step", "wrong", "backtrack", "step"]
    assert draft.events[2].node == below.id and "3 does not check out" in draft.text
    assert "rollouts" not in draft.text and draft.no_trial == 0


def test_a_judges_reason_in_the_third_person_enters_in_the_first():
    tree, right = _root_with({"step": Step(index=1, text="x = 3"), "correct": False,
                              "verdict": Verdict(action="backtrack", reason="The student divided 8 by 3.")})
    text = dfs_draft(tree, right, trials_per_node=1).text
    assert "I divided 8 by 3." in text and "student" not in text.lower()


def test_go_back_names_the_step_that_is_redone():
    tree = ThoughtTree()
    first = tree.add(0, step=Step(index=1, text="2x = 8"), correct=True)
    tree.add(first.id, step=Step(index=2, text="x = 16"), correct=False,
             verdict=Verdict(action="backtrack", reason="I multiplied instead of dividing."))
    right = tree.add(first.id, kind="answer", step=Step(index=2, text="x = \\boxed{4}"), answer="4", correct=True)
    texts = {dfs_draft(tree, right, trials_per_node=1, seed=seed).text for seed in range(40)}
    backs = {sentence.format(n=2) for sentence in GO_BACK}
    assert all(sum(back in text for back in backs) == 1 for text in texts)
    assert len(texts) > 2  # the connectors vary with the seed


def test_draft_sentences_agree_with_the_template_split():
    from eval.template_split import DRAFT_PHRASES, _phrase

    counted = {regex.pattern for regex, _ in DRAFT_PHRASES}
    assert [sentence for sentence in DRAFT_SENTENCES if _phrase(sentence)[0].pattern not in counted] == []


def test_a_wrong_branch_grown_to_its_leaf_is_explored_over_several_steps():
    tree = ThoughtTree()
    right = tree.add(0, step=Step(index=1, text="2x = 8 so x = \\boxed{4}"), kind="answer", answer="4", correct=True)
    first = tree.add(0, step=Step(index=1, text="2x = 9"), correct=False,
                     verdict=Verdict(action="backtrack", reason="I misread the problem: it says 8, not 9."))
    second = tree.add(first.id, step=Step(index=2, text="x = 4.5"), correct=False)
    tree.add(second.id, kind="answer", step=Step(index=3, text="So x = \\boxed{4.5}"), answer="4.5", correct=False)
    draft = dfs_draft(tree, right, trials_per_node=1)
    assert [len(branch) for branch in draft.branches] == [3]
    assert "I misread the problem" in draft.text and draft.text.count("\\boxed") == 2
