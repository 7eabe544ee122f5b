"""The rewrite's faithfulness check: normalised math, signed anchors, the final answer, and the fallback rate."""

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from protocols.annotation import parse_file
from protocols.types import Problem, Record
from synthesis.annotate import ExpandConfig, expand_one
from synthesis.engine import Run, RunConfig, report_summary
from synthesis.engine.rows import read_fallback_stats
from synthesis.rewrite import anchors, check_faithful, normalize_math, rewrite_draft
from tests.fakes import ScriptedLLM

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "annotations"
STEPS = ["2x = 8, so x = 3", "2 * 3 = 6, not 8", "x = 4"]


@pytest.mark.parametrize("text, normalised", [
    (r"\frac{1}{2}", "1/2"),
    (r"\dfrac{3}{4} + \tfrac{5}{6}", "3/4 + 5/6"),
    (r"\frac12", "1/2"),
    (r"\frac{x+1}{2}", "(x+1)/2"),
    (r"\frac{\frac{1}{2}}{3}", "(1/2)/3"),
    (r"2 \cdot 3 \times 4", "2 * 3 * 4"),
    ("2 × 3 · 4", "2 * 3 * 4"),
    ("x = −3, y = 5 – 2", "x = -3, y = 5 - 2"),
    (r"1,000 + 1{,}000 + 1\,000 + 2,500,000", "1000 + 1000 + 1000 + 2500000"),
    ("x = 1, 2", "x = 1, 2"),
    ("1,00 and 1,0000", "1,00 and 1,0000"),
    (r"$x = 3$ and \(y\) and \[z\]", "x = 3 and y and z"),
    (r"\left( -3 \right) \left. x \right|", "( -3 ) x |"),
    (r"2^{10} and {{7}}", "2^10 and 7"),
    (r"\text{East}", "east"),
    (r"x \le -3, x \geq 2", "x <= -3, x >= 2"),
    ("a\n\n  b", "a b"),
])
def test_normalize_math(text, normalised):
    assert normalize_math(text) == normalised


@pytest.mark.parametrize("text, expected", [
    ("x = -3", ["-3"]),
    ("(-3)", ["-3"]),
    ("-3 is the root", ["-3"]),
    ("x equals −3", ["-3"]),
    (r"x \le -3", ["-3"]),
    ("2^{-3}", ["2", "-3"]),
    ("x - 3", ["3"]),
    ("5-3 = 2", ["5", "3", "2"]),
    ("2x - 3", ["2", "3"]),
    (r"\pi - 3", ["3"]),
    ("2500 - 2550 = -50", ["2500", "2550", "-50"]),
    ("x = 1, 2", ["1", "2"]),           # two numbers, not 12
    ("the total is 1,000", ["1000"]),
    (r"x = \frac{-1}{2}", ["-1/2"]),
    ("13 and 3.5", ["13", "3.5"]),
    ("A quarter turn clockwise", ["clockwise"]),
])
def test_anchors(text, expected):
    assert anchors(text) == expected


FAITHFUL = [
    pytest.param(["x = 1/2"], r"So $x = \frac{1}{2}$. \boxed{\frac{1}{2}}", "1/2", id="frac"),
    pytest.param(["y = 3/4"], r"Then y is \dfrac{3}{4}. \boxed{3/4}", "\\frac34", id="dfrac"),
    pytest.param(["1/2 of 10 is 5"], r"Taking \tfrac12 of 10 leaves 5. \boxed{5}", "5", id="tfrac12"),
    pytest.param(["2 * 3 = 6"], r"Since $2 \cdot 3 = 6$", None, id="cdot"),
    pytest.param(["2 * 3 = 6"], r"2 \times 3 = 6", None, id="times"),
    pytest.param(["2 * 3 = 6"], "2 × 3 = 6", None, id="unicode-times"),
    pytest.param(["x = -3"], "so x equals −3", None, id="unicode-minus"),
    pytest.param(["x = -3"], "so x = - 3", None, id="spaced-minus"),
    pytest.param(["x - 3 = 0"], "subtracting 3 from x gives 0", None, id="binary-minus-needs-no-sign"),
    pytest.param(["the total is 1000"], "the total is 1,000", None, id="comma-thousands"),
    pytest.param(["the total is 1000"], r"the total is $1{,}000$", None, id="brace-thousands"),
    pytest.param(["the total is 1000"], r"the total is 1\,000", None, id="thin-space-thousands"),
    pytest.param(["x = -3"], "$x = -3$", None, id="dollars"),
    pytest.param(["x = -3"], r"\(x = -3\)", None, id="parens-delimiters"),
    pytest.param(["x = -3"], r"\[x = \left(-3\right)\]", None, id="brackets-delimiters"),
    pytest.param(["2^10 = 1024"], r"$2^{10} = 1{,}024$", None, id="braced-exponent"),
    pytest.param(["x = 1, 2"], "x is 1 or 2", None, id="two-numbers"),
    pytest.param(STEPS, r"Let me think. From $2x = 8$ I guess x = 3. Hmm, wait: $2 \cdot 3 = 6$, which is not 8. "
                        r"So actually x = 4. \boxed{4}", "4", id="connectives"),
    pytest.param(["x = 1/2"], r"x = 1/2 \boxed{0.5}", "\\frac{1}{2}", id="equivalent-final-answer"),
    pytest.param(["she faces east"], r"She faces east. \boxed{\text{east}}", "east", id="text-final-answer"),
    # by value, not by spelling
    pytest.param([r"x = \frac{1}{2}"], "x = 0.5", None, id="half-as-decimal"),
    pytest.param(["x = 0.5"], r"so $x = \frac12$", None, id="decimal-as-frac12"),
    pytest.param(["the price is 2.50"], "the price is 2.5", None, id="trailing-zero"),
    pytest.param(["20% of 50 is 10"], r"$0.2 \times 50 = 10$", None, id="percent-as-decimal"),
    pytest.param(["20% of 50 is 10"], "20 percent of 50 is 10", None, id="percent-word"),
    pytest.param(["0.2 * 50 = 10"], r"20\% of 50 is 10", None, id="decimal-as-percent"),
    pytest.param(["12 / 4 = 3"], r"$\frac{12}{4} = 3$", None, id="division-as-frac"),
    pytest.param(["12/4 = 3"], "12 ÷ 4 = 3", None, id="division-as-obelus"),
]


@pytest.mark.parametrize("texts, rewrite, final_answer", FAITHFUL)
def test_faithful_rewrites_are_accepted(texts, rewrite, final_answer):
    result = check_faithful(texts, rewrite, final_answer)
    assert result.faithful, result.reason
    assert result.missing == [] and result.reason == ""


UNFAITHFUL = [
    pytest.param(STEPS, r"From 2x = 8, x = 4. \boxed{4}", "4", "missing '3' from text 1: 2x = 8, so x = 3",
                 id="dropped-step"),
    pytest.param(STEPS, r"2x = 8 gives x = 3, but 2 * 3 = 7, not 8. So x = 4. \boxed{4}", "4",
                 "missing '6' from text 2: 2 * 3 = 6, not 8", id="changed-number"),
    pytest.param(["x = -3"], "x = 3", None, "missing '-3' from text 1: x = -3", id="sign-flipped"),
    pytest.param(STEPS, r"2 * 3 = 6, not 8, so 2x = 8 does not give x = 3. So x = 4. \boxed{4}", "4",
                 "missing '2' from text 2: 2 * 3 = 6, not 8", id="reordered"),
    pytest.param(STEPS, r"2x = 8 gives x = 3; 2 * 3 = 6, not 8. So x = 4. \boxed{5}", "4",
                 "final answer \\boxed{5} differs from 4", id="different-final-answer"),
    pytest.param(STEPS, "2x = 8 gives x = 3; 2 * 3 = 6, not 8. So x = 4.", "4", "no \\boxed{} final answer",
                 id="no-boxed-answer"),
    pytest.param(["x = 3"], "x = 13", None, "missing '3' from text 1: x = 3", id="inside-13"),
    pytest.param(["x = 3"], "x = 3.5", None, "missing '3' from text 1: x = 3", id="inside-3.5"),
    pytest.param(["x = 1, 2"], "x = 12", None, "missing '1' from text 1: x = 1, 2", id="one-two-is-not-twelve"),
    pytest.param(["x = 1/2"], "x = 12", None, "missing '1/2' from text 1: x = 1/2", id="fraction-lost"),
    pytest.param([r"x = \frac{1}{2}"], "x = 0.6", None, r"missing '1/2' from text 1: x = \frac{1}{2}",
                 id="value-changed"),
    pytest.param(["20% of 50 is 10"], "25% of 50 is 10", None, "missing '20%' from text 1: 20% of 50 is 10",
                 id="percent-changed"),
    # a division written out is a computation: the same value from other operands is not the same step
    pytest.param(["12/4 = 3"], "36/12 = 3", None, "missing '12/4' from text 1: 12/4 = 3", id="other-division"),
    pytest.param(["x = 1/2", "x = 1/2"], "x = 0.5", None, "missing '1/2' from text 2: x = 1/2",
                 id="one-number-stands-for-one"),
]


@pytest.mark.parametrize("texts, rewrite, final_answer, reason", UNFAITHFUL)
def test_unfaithful_rewrites_are_rejected_with_a_reason(texts, rewrite, final_answer, reason):
    result = check_faithful(texts, rewrite, final_answer)
    assert not result.faithful and result.reason == reason
    assert result.missing == [final_answer] if "final answer" in reason else result.missing[0] in texts


def test_the_sign_check_is_ordered_and_counted():
    # "4 - 3" holds the characters "-3" but no negative number: the ordered search alone would accept it, the count
    # of numbers (the same classification on both sides) does not. And the "-3" must come after the anchors before it.
    assert not check_faithful(["x = -3"], "x = 4 - 3").faithful
    assert check_faithful(["x = -3"], "so x equals \u22123").faithful
    assert not check_faithful(["x = 5", "x = -3"], "x = -3, then x = 5 and x = 3").faithful


def test_a_dropped_step_whose_numbers_reappear_later_is_caught():
    # A lossy rewrite the fidelity suite found (MATH500 algebra/893): the wrong step "b = 1" is gone, but its numbers
    # reappear in order (in the reason, the corrected step and the closing summary; its 1 only as the final -1, which
    # is not 1 by value), so only numbers compared by value or counted catch it.
    wrong = r"It's given by $-16t=(5t\cdot-2)+a\cdot bt\Longrightarrow-16t=-10t+(-3)bt\Longrightarrow b=1$."
    right = wrong.replace("b=1", "b=2")
    last = r"Therefore our result is $a+b=-1$. So the final answer is $\boxed{-1}$."
    texts = ["Therefore we know that $6=-2a$, so $a=-3$.", wrong, "I wrote 1 where it should be 2.", right, last]
    summary = f"So the solution is:\n1. Therefore we know that $6=-2a$, so $a=-3$.\n2. {right}\n3. {last}"
    faithful = "\n\n".join([*texts, summary, r"So the final answer is $\boxed{-1}$."])
    lossy = faithful.replace(wrong + "\n\n", "", 1)
    assert check_faithful(texts, faithful, "-1").faithful
    result = check_faithful(texts, lossy, "-1")
    assert not result.faithful and ("'1' appears" in result.reason or "missing '1'" in result.reason)


def test_every_stated_boxed_answer_is_judged_by_value():
    texts = [r"So the answer is $\boxed{\frac{1}{2}}$.", "That is wrong: x = 3.", r"So $\boxed{3}$."]
    assert check_faithful(texts, r"So the answer is $\boxed{0.5}$. That is wrong: x = 3. So $\boxed{3}$.", "3").faithful
    # the wrong answer's number survives (0.5 is 1/2), but the answer it boxed was changed
    changed = check_faithful(texts, r"So the answer is 0.5, $\boxed{0.6}$. That is wrong: x = 3. So $\boxed{3}$.", "3")
    assert not changed.faithful and changed.reason.startswith(r"\boxed{1/2} is missing"), changed.reason


async def test_rewrite_draft_passes_the_final_answer_through():
    llm = ScriptedLLM(rewriter=[r"So x = 4. \boxed{5}", r"So x = 4. \boxed{4}"])
    wrong = await rewrite_draft(llm, "2x = 8?", "x = 4", ["x = 4"], final_answer="4")
    assert not wrong.faithful and wrong.reason == "final answer \\boxed{5} differs from 4"
    right = await rewrite_draft(llm, "2x = 8?", "x = 4", ["x = 4"], final_answer="4")
    assert right.faithful and right.reason == ""
    unchecked = await rewrite_draft(ScriptedLLM(rewriter=["So x = 4."]), "2x = 8?", "x = 4", ["x = 4"])
    assert unchecked.faithful  # tree search does not pass its final answer yet


SUM_EXPANSION = (
    "First I split the sum into odd and even terms. The odd ones, 1 + 3 + ... + 99, are 50 odd numbers: "
    "$50^{2} = 2{,}500$. The even ones are 2 + 4 + ... + 100 = 2(1 + 2 + ... + 50) = $2 \\cdot 1275 = 2550$. "
    "So 2500 + 2550 = 5050? Wait, 5050 is 1 + 2 + ... + 100 with every sign positive, and here the even terms are "
    "subtracted. The sum is $2500 - 2550 = −50$. \\boxed{-50}"
)
SUM_REFLECTION = (" Wait, 5050 is 1 + 2 + ... + 100 with every sign positive, and here the even terms are "
                  "subtracted.")


async def test_an_expansion_must_keep_the_reflection_and_the_final_answer():
    annotation, _ = parse_file(EXAMPLES / "intermediate_algebra-134.md")
    problem = Problem(id="test/intermediate_algebra/134.json", question="Sum?", answer="-50")
    faithful = await expand_one(annotation, problem, ExpandConfig(), ScriptedLLM(expander=[SUM_EXPANSION]))
    assert faithful.stop_reason == "expanded" and faithful.meta["rewrite_faithful"] is True
    assert faithful.long_thought == SUM_EXPANSION
    no_reflection = SUM_EXPANSION.replace(SUM_REFLECTION, "")
    dropped = await expand_one(annotation, problem, ExpandConfig(), ScriptedLLM(expander=[no_reflection]))
    assert dropped.stop_reason == "expansion_unfaithful" and dropped.long_thought == dropped.meta["draft"]
    assert dropped.meta["rewrite_reason"].startswith("missing '5050' from text 5: 5050 is 1 + 2 + ... + 100")
    wrong_answer = SUM_EXPANSION.replace("\\boxed{-50}", "\\boxed{50}")
    wrong = await expand_one(annotation, problem, ExpandConfig(), ScriptedLLM(expander=[wrong_answer]))
    assert wrong.meta["rewrite_faithful"] is False
    assert wrong.meta["rewrite_reason"] == "final answer \\boxed{50} differs from -50"


def _row(problem_id: str, faithful: bool | None) -> Record:
    meta = {} if faithful is None else {"rewrite_faithful": faithful, "rewrite_missing": [] if faithful else ["x"]}
    return Record(problem_id=problem_id, attempt="tree_search", problem=Problem(id=problem_id, question="?"),
                  stop_reason="correct_leaf_found", meta=meta)


def _rewrite_run(tmp_path) -> Run:
    return Run("tree_search", RunConfig(out=str(tmp_path / "run"), preflight=False), RunConfig(),
               {"rewriter": ScriptedLLM()}, {})


async def test_manifest_and_final_line_count_rewrite_fallbacks_over_the_whole_run(tmp_path):
    faithful = {"a": True, "b": False, "c": True, "d": None}

    async def solve(problem: Problem) -> Record:
        return _row(problem.id, faithful[problem.id])

    problems = [Problem(id=problem_id, question="?") for problem_id in "abcd"]
    summary = await _rewrite_run(tmp_path).execute(problems[:2], solve)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["rewrites"] == {"checked": 2, "fallbacks": 1, "fallback_rate": 0.5} == summary.rewrites
    console = Console(file=io.StringIO(), width=400)
    report_summary(summary, console)
    assert console.file.getvalue().rstrip().endswith("), rewrite fallback 1/2 (50.0%)")

    # A resumed run counts the rows of the earlier part too; a row without a rewrite is not counted.
    summary = await _rewrite_run(tmp_path).execute(problems, solve)
    assert (summary.done, summary.skipped) == (2, 2)
    assert summary.rewrites == {"checked": 3, "fallbacks": 1, "fallback_rate": 0.3333}
    console = Console(file=io.StringIO(), width=400)
    report_summary(summary, console)
    assert console.file.getvalue().rstrip().endswith(", rewrite fallback 1/3 (33.3%)")


async def test_a_run_without_rewrites_has_none_and_a_plain_final_line(tmp_path):
    async def solve(problem: Problem) -> Record:
        return _row(problem.id, None)

    summary = await _rewrite_run(tmp_path).execute([Problem(id="a", question="?")], solve)
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["rewrites"] is None
    console = Console(file=io.StringIO(), width=400)
    report_summary(summary, console)
    assert "rewrite fallback" not in console.file.getvalue()


def test_fallback_stats_skip_a_torn_last_line(tmp_path):
    path = tmp_path / "records.jsonl"
    rows = [_row("a", True).to_json(), _row("b", False).to_json()]
    path.write_text(rows[0] + "\n" + rows[1] + "\n" + rows[1][:-5])  # the torn line names rewrite_faithful
    assert read_fallback_stats(path) == {"checked": 2, "fallbacks": 1, "fallback_rate": 0.5}
    assert read_fallback_stats(tmp_path / "absent.jsonl") is None
