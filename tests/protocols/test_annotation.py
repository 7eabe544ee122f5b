import pytest
from pathlib import Path

from protocols.annotation import parse, parse_file, render_draft, to_tree
from synthesis.rewrite import check_faithful

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "annotations"


def journey_blocks(annotation):
    """The attempts and corrections, in order: what an expansion must keep."""
    return [block for block in annotation.blocks if block.marker in ("attempt", "correction")]


BROKEN = """# problem: test/algebra/567.json
# source: math500
## attempt
x = 1
## guess
x = 2
## correction
## reflection to 2
hmm
"""


def test_errors_name_their_exact_lines():
    annotation, issues = parse(BROKEN, "broken.md")
    found = {(issue.line, issue.message.split(" ")[0]) for issue in issues}
    assert (4 + 1, "unknown") in found          # line 5: '## guess'
    assert (7, "empty") in found                # line 7: an empty correction
    assert (8, "only") in found                 # line 8: a reflection cannot name a step
    assert any("no final answer" in issue.message for issue in issues)
    assert all(str(issue).startswith("broken.md:") for issue in issues)


def test_a_misspelt_heading_is_one_error_that_names_the_marker_meant():
    text = "# problem: p1\n## atempt\nx = 1\nx = 2\n## final\n\\boxed{2}\n"
    annotation, issues = parse(text, "typo.md")
    assert [str(issue) for issue in issues] == [
        "typo.md:2: error: unknown marker '## atempt': did you mean '## attempt'?"]  # not "no ## attempt", no per-line noise


def test_a_fresh_template_gets_one_error_for_its_empty_final():
    from synthesis.annotate import TEMPLATE

    text = TEMPLATE.format(id="p1", source="math500", question="1 + 1?", answer="2")
    _, issues = parse(text, "new.md")
    messages = [issue.message for issue in issues]
    assert "empty final" in messages and not any("no final answer" in message for message in messages), messages


def test_missing_problem_line():
    annotation, issues = parse("## attempt\nx = 1\n## final\n\\boxed{1}\n", "x.md")
    assert annotation is None and issues[0].line == 1 and "problem" in issues[0].message


def test_examples_parse_cleanly_and_round_trip_through_the_tree():
    files = sorted(EXAMPLES.glob("*.md"))
    assert len(files) == 3
    for path in files:
        annotation, issues = parse_file(path)
        assert issues == [], issues
        tree = to_tree(annotation)
        draft = render_draft(annotation)
        tree_steps = [node.step.text for node in tree.nodes if node.kind in ("step", "answer")]
        for block in journey_blocks(annotation):
            for _, line in block.lines:
                assert line in draft and line in tree_steps
        # the abandoned step stays in the tree, marked wrong, with the correction as a sibling branch
        wrong = [node for node in tree.nodes if node.correct is False]
        assert len(wrong) == 1 and tree.nodes[wrong[0].parent].children.__len__() == 2
        assert any(node.kind == "reflection" for node in tree.nodes) and any(node.kind == "note" for node in tree.nodes)


@pytest.mark.parametrize("target", [1, 2, 3])
def test_correction_to_n_names_the_first_wrong_step(target):
    # Same meaning as the critic's "backtrack to N": steps N.. are wrong, the correction is a new step N.
    annotation, _ = parse(f"# problem: p\n## attempt\na 1\nb 2\nc 3\n## correction to {target}\nnew 4\n## final\n\\boxed{{4}}\n")
    tree = to_tree(annotation)
    corrected = next(node for node in tree.nodes if node.step and node.step.text == "new 4")
    assert corrected.step.index == target
    assert [node.step.text for node in tree.path(corrected.id)[1:-1]] == ["a 1", "b 2", "c 3"][: target - 1]
    wrong = [node.step.text for node in tree.nodes if node.correct is False]
    assert wrong == ["a 1", "b 2", "c 3"][target - 1 :]


def test_a_new_attempt_starts_over_and_keeps_the_old_branch():
    annotation, _ = parse("# problem: p\n## attempt\nfirst try 1\n## attempt\nsecond try 2\n## final\n\\boxed{2}\n")
    tree = to_tree(annotation)
    assert [tree.nodes[child].step.text for child in tree.root.children] == ["first try 1", "second try 2"]


def test_faithfulness_rejects_an_expansion_that_drops_a_correction():
    annotation, _ = parse_file(EXAMPLES / "intermediate_algebra-134.md")
    journey = [text for block in journey_blocks(annotation) for _, text in block.lines]
    faithful = ("First I split the sum into odd and even terms. The odd ones, 1 + 3 + ... + 99, are 50 odd numbers: "
                "50^2 = 2500. The even ones are 2 + 4 + ... + 100 = 2(1 + 2 + ... + 50) = 2 * 1275 = 2550. So 2500 + "
                "2550 = 5050? Wait, the even terms are subtracted. The sum is 2500 - 2550 = -50.")
    assert check_faithful(journey, faithful).faithful
    dropped = faithful.replace(" Wait, the even terms are subtracted. The sum is 2500 - 2550 = -50.", "")
    result = check_faithful(journey, dropped)
    assert not result.faithful and result.missing == ["The sum is 2500 - 2550 = -50."]


def test_a_bare_boxed_final_is_put_inside_delimiters_in_the_draft():
    # the draft is the long thought when an expansion is unfaithful: its math must render
    from protocols.prose_checks import latex_outside

    text = ("# problem: p/1\n# source: gsm8k\n## attempt\nShe sells 16 - 3 - 4 = 9 eggs.\n"
            "## final\n\\boxed{\\frac{18}{1}}\n")
    annotation, issues = parse(text, "bare.md")
    assert issues == []
    draft = render_draft(annotation)
    assert draft.endswith("So the final answer is:\n$\\boxed{\\frac{18}{1}}$") and latex_outside(draft) == []
    assert annotation.final_answer == "\\frac{18}{1}"  # the person's answer is read as written
