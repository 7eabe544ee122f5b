import os
import time

import pytest

from protocols.answers import aequivalent, check_answer, equivalent, equivalent_many, extract_answer, last_boxed

# (gold as MATH writes it, a model's answer, equivalent?) -- grown from MATH500 answers and their usual rewrites.
EQUIVALENCE_TABLE = [
    # fractions and decimals
    ("\\frac{1}{2}", "0.5", True),
    ("\\frac{1}{2}", "\\dfrac{1}{2}", True),
    ("\\dfrac{3}{4}", "\\frac34", True),
    ("\\frac{1}{2}", "1/2", True),
    ("\\frac{14}{3}", "4\\frac{2}{3}", True),  # math-verify reads a number before a fraction as a mixed number
    ("\\frac{1}{3}", "0.33", False),
    ("-\\frac{2}{3}", "\\frac{-2}{3}", True),
    ("0.25", "\\frac{1}{4}", True),
    # radicals
    ("\\sqrt{2}", "2^{1/2}", True),
    ("2\\sqrt{5}", "\\sqrt{20}", True),
    ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}", True),
    ("3\\sqrt{2}", "2\\sqrt{3}", False),
    ("\\sqrt[3]{8}", "2", True),
    # pi
    ("2\\pi", "2 \\pi", True),
    ("\\frac{\\pi}{2}", "\\pi/2", True),
    ("\\pi", "3.14159", False),
    ("4\\pi", "4", False),
    # degrees
    ("90^\\circ", "90", True),
    ("30^\\circ", "30^{\\circ}", True),
    ("45", "45^\\circ", True),
    ("60^\\circ", "30", False),
    # percentages
    ("50\\%", "50", True),
    ("10\\%", "10\\%", True),
    ("25\\%", "30\\%", False),
    # intervals
    ("[0,1)", "[0, 1)", True),
    ("(-\\infty, 3]", "(-\\infty,3]", True),
    ("[-2,7]", "x \\in [-2,7]", True),
    ("(0,1)", "[0,1]", False),
    # ordered pairs and tuples
    ("(1,2)", "(1, 2)", True),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)", True),
    ("(2,-1)", "(-1,2)", False),
    ("(1,2,3)", "(1, 2, 3)", True),
    # text answers
    ("\\text{Evelyn}", "Evelyn", True),
    ("\\text{(C)}", "(C)", True),
    ("\\text{Monday}", "Tuesday", False),
    ("864 \\mbox{ inches}^2", "864", True),
    ("\\$36", "36", True),
    # equations and assignments
    ("2", "x = 2", True),
    ("x = 5", "5", True),
    ("y = 2x + 3", "y = 2x+3", True),
    ("2", "x = 3", False),
    # integers, signs, big numbers
    ("10", "10.0", True),
    ("-3", "-3", True),
    ("3", "-3", False),
    ("1000000", "10^6", True),
    ("8+4i", "4i + 8", True),
    # sets of solutions
    ("1, 2", "2, 1", True),
    ("\\{1, 2\\}", "\\{2, 1\\}", True),
]


def test_table_has_at_least_forty_cases():
    assert len(EQUIVALENCE_TABLE) >= 40


@pytest.mark.parametrize("gold,predicted,expected", EQUIVALENCE_TABLE)
def test_equivalence_table(gold, predicted, expected):
    assert equivalent(gold, predicted) is expected


def test_batch_form_matches_single_calls():
    pairs = [(gold, predicted) for gold, predicted, _ in EQUIVALENCE_TABLE[:12]]
    assert equivalent_many(pairs) == [expected for _, _, expected in EQUIVALENCE_TABLE[:12]]


async def test_async_form_does_not_need_the_main_thread():
    assert await aequivalent("\\frac{1}{2}", "0.5") is True
    assert await aequivalent("\\frac{1}{2}", "0.6") is False


@pytest.mark.parametrize(
    "text,answer",
    [
        ("so the total is \\boxed{42}.", "42"),
        ("first \\boxed{1} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("nested \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)} done", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("\\fbox{7}", "7"),
        ("\\boxed 5 is it", "5"),
        ("Natalia sold 72.\n#### 1,072", "1072"),
        ("Thus the final answer: $\\frac{3}{4}$.", "\\frac{3}{4}"),
        ("Final Answer: The final answer is 12. I hope it is correct.", "12"),
        ("The answer is 9.", "9"),
        ("the answer is: x = 3", "x = 3"),
        ("The correct answer is 5.", "5"),
        ("no answer here", None),
        ("unbalanced \\boxed{3", None),
        ("", None),
    ],
)
def test_extract_answer(text, answer):
    assert extract_answer(text) == answer


def test_last_boxed_and_check_answer():
    assert last_boxed("a \\boxed{1} b \\boxed{2}") == "2"
    assert check_answer("4", "So 2+2 = \\boxed{4}.") == ("4", True)
    assert check_answer("4", "I do not know.") == (None, False)


HOSTILE = [
    "__import__('os').system('touch /tmp/longthought-pwned')",
    "9**9**9**9",
    "9^{9^{9^{9}}}",
    "{" * 10_000 + "1" + "}" * 10_000,
    "1" * 1_000_000,
    "\\boxed{" * 5000,
]


@pytest.mark.parametrize("hostile", HOSTILE, ids=["import", "power", "latex-power", "braces", "1MB", "open-boxes"])
def test_hostile_answers_are_false_within_the_timeout_and_execute_nothing(hostile):
    marker = "/tmp/longthought-pwned"
    if os.path.exists(marker):
        os.unlink(marker)
    started = time.monotonic()
    assert equivalent("2", hostile, timeout=2.0) is False
    assert equivalent(hostile, "2", timeout=2.0) is False
    # Two calls, each bounded by the timeout, plus scheduling slack.
    assert time.monotonic() - started < 2 * 2.0 + 1.5
    assert not os.path.exists(marker)


def test_a_killed_worker_does_not_break_later_checks():
    assert equivalent("2", "9^{9^{9^{9}}}", timeout=1.0) is False  # stuck in C: the worker is killed
    assert equivalent("\\frac{1}{2}", "0.5") is True
