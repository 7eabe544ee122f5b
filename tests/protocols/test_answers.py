import os
import time

import pytest

from protocols.answers import (
    aequivalent,
    check_answer,
    equivalent,
    equivalent_many,
    extract_answer,
    last_boxed,
    stated_answer,
)

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


# (gold, an answer as models state it outside MATH's LaTeX, equivalent?) -- grown from GSM8K-style and
# chat-model outputs: plain numbers with separators, units and currency, math with spaced delimiters,
# relations typed in ASCII, and answers stated in a sentence instead of a box.
STATED_TABLE = [
    # thousands separators and decimal commas
    pytest.param("7425000", "7,425,000", True, id="thousands-commas"),
    pytest.param("1234567.5", "1,234,567.50", True, id="thousands-and-point"),
    pytest.param("2500", "2 500", True, id="thousands-space"),
    pytest.param("1000", "1,000", True, id="one-thousand"),
    pytest.param("3.75", "3,75", True, id="decimal-comma"),
    pytest.param("1250.5", "1.250,50", True, id="european-grouping"),
    pytest.param("1000.99", "1 000,99", True, id="french-grouping"),
    pytest.param("0.4", ".4", True, id="leading-point"),
    pytest.param("-12", "−12", True, id="unicode-minus"),
    pytest.param("14916", "14{,}916", True, id="latex-comma-group"),
    pytest.param("12000023", "12,\\!000,\\!023", True, id="latex-thin-group"),
    pytest.param("1.5", "1,5", False, id="one-digit-after-comma-is-a-list"),
    pytest.param("1500", "1,500.5", False, id="grouped-but-different"),
    pytest.param("1234", "1,243", False, id="digits-swapped"),
    pytest.param("3", "3,000", False, id="grouping-is-not-decimal"),
    # currency, units, percent
    pytest.param("18", "$18", True, id="dollar-prefix"),
    pytest.param("18", "\\$18.00", True, id="latex-dollar-cents"),
    pytest.param("42.50", "42,50 €", True, id="euro-suffix"),
    pytest.param("1000.99", "1,000.99€", True, id="euro-glued"),
    pytest.param("45", "45 dollars", True, id="currency-word"),
    pytest.param("12", "12 cm", True, id="unit"),
    pytest.param("1000.99", "1,000.99m²", True, id="unit-squared"),
    pytest.param("96", "96\\text{ square meters}", True, id="text-unit"),
    pytest.param("15", "15\\mbox{ cm}^2", True, id="mbox-unit"),
    pytest.param("25", "25%", True, id="percent"),
    pytest.param("0.25", "25\\%", True, id="percent-as-fraction"),
    pytest.param("12.5", "12.5 percent", True, id="percent-word"),
    pytest.param("18", "$81", False, id="dollar-wrong"),
    pytest.param("5", "5x", False, id="variable-is-not-a-unit"),
    pytest.param("2", "2 pi", False, id="pi-is-not-a-unit"),
    pytest.param("5", "5 thousand", False, id="scale-word-is-not-a-unit"),
    pytest.param("\\frac{1}{3}", "0.333 dollars", False, id="rounded-with-unit"),
    # math delimiters with spaces
    pytest.param("9", "$ 9 $", True, id="spaced-dollars"),
    pytest.param("9", "$$ 9 $$", True, id="spaced-display"),
    pytest.param("9", "\\( 9 \\)", True, id="spaced-parens"),
    pytest.param("\\frac{1}{2}", "\\[ \\frac{1}{2} \\]", True, id="spaced-brackets"),
    pytest.param("9", "$ 8 $", False, id="spaced-wrong"),
    pytest.param("9", "The remainder is $ 9 $.", True, id="spaced-dollars-in-sentence"),
    pytest.param("\\frac{1}{2}", "so each gets \\( \\frac{1}{2} \\) of the pie", True, id="spaced-parens-in-sentence"),
    pytest.param("9", "The remainder is $ 8 $.", False, id="spaced-in-sentence-wrong"),
    pytest.param("9", "Answer $ \n 9 \n $", False, id="inline-math-cannot-span-lines"),
    # relations typed in ASCII or Unicode
    pytest.param("x \\neq 5", "x != 5", True, id="ascii-neq"),
    pytest.param("x \\neq 5", "x ≠ 5", True, id="unicode-neq"),
    pytest.param("x \\le 3", "x <= 3", True, id="ascii-le"),
    pytest.param("x \\geq -2", "x >= -2", True, id="ascii-ge"),
    pytest.param("x > 2", "2 < x", True, id="flipped-inequality"),
    pytest.param("x \\neq 5", "x = 5", False, id="neq-vs-eq"),
    pytest.param("x < 5", "x \\le 5", False, id="strict-vs-not"),
    pytest.param("x \\neq 5", "x != 6", False, id="neq-other-value"),
    # answers stated in a sentence
    pytest.param("34", "Final Answer: The largest $n$ is 34.", True, id="final-answer-sentence"),
    pytest.param("34", "Final Answer: The largest $n$ is 35.", False, id="final-answer-sentence-wrong"),
    pytest.param("12", "The answer is 12 apples.", True, id="answer-with-noun"),
    pytest.param("7.78", "So, Anna pays approximately $7.78 for her fudge.", True, id="currency-in-sentence"),
    pytest.param("143", "Thus there are 143 such years.", True, id="number-in-sentence"),
    pytest.param("\\frac{2}{3}", "Therefore, the probability that Alice wins is 2/3.", True, id="slash-fraction"),
    pytest.param("(7,6)", "So the ordered pair that solves the system is $(7, 6)$.", True, id="math-in-sentence"),
    pytest.param("x \\neq 5", "The solution is $x != 5$.", True, id="relation-in-sentence"),
    pytest.param("100\\%", "so the error increases by 100%.", True, id="percent-in-sentence"),
    pytest.param("2.74", "Total : 2,74 $", True, id="labelled-decimal-comma"),
    pytest.param("1000.99", "it is not 10, it is 1,000.99€", True, id="last-number-counts"),
    pytest.param("10", "it is not 10, it is 1,000.99€", False, id="earlier-number-does-not"),
    pytest.param("5", "x is 5", True, id="is-states"),
    pytest.param("5", "Answer: 6", False, id="answer-label-wrong"),
    pytest.param("\\text{Evelyn}", "Therefore, $\\boxed{\\text{Evelyn}}$ is our answer.", True, id="boxed-name"),
    pytest.param("90^\\circ", "the angle is 90 degrees", True, id="degrees-word"),
    # several boxes, and a later statement after a box
    pytest.param("1,-2", "the integers are \\[ \\boxed{-2} \\quad \\text{and} \\quad \\boxed{1}. \\]", True, id="boxes-and"),
    pytest.param("(3,3),(1,1)", "$\\boxed{(3, 3)}$ for part (a) and $\\boxed{(1, 1)}$ for part (b)", True, id="boxes-parts"),
    pytest.param("2", "\\boxed{1} no, wait, \\boxed{2}", True, id="box-replaced"),
    pytest.param("1, 2", "\\boxed{1} no, wait, \\boxed{2}", False, id="box-replaced-not-joined"),
    pytest.param("\\frac{639}{40}", "$\\boxed{15\\frac{39}{40}}$ or $\\boxed{\\frac{639}{40}}$", True, id="boxes-or"),
    pytest.param(
        "10455",
        "so $\\boxed{255}$ after six months. Final Answer: The final answer is $10,455$. I hope it is correct.",
        True,
        id="final-answer-after-box",
    ),
    pytest.param(
        "255",
        "so $\\boxed{255}$ after six months. Final Answer: The final answer is $10,455$. I hope it is correct.",
        False,
        id="box-before-final-answer",
    ),
]


def test_stated_table_has_at_least_sixty_cases():
    assert len(STATED_TABLE) >= 60


@pytest.mark.parametrize("gold,predicted,expected", STATED_TABLE)
def test_stated_table(gold, predicted, expected):
    assert equivalent(gold, predicted) is expected


# (gold, a whole model output, the answer it states, right?) -- long outputs whose last line states the answer.
OUTPUTS = [
    pytest.param(
        "18",
        "Janet's ducks lay 16 eggs per day. She eats 3 for breakfast and bakes muffins with 4.\n"
        "So she sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * $2 = $18 every day at the farmers' market.",
        "18",
        True,
        id="gsm8k-no-marker",
    ),
    pytest.param(
        "72",
        "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48 + 24 = 72 clips in April and May.\n"
        "After giving 1 away, she has 71 clips left.",
        "71",
        False,
        id="gsm8k-last-number-wrong",
    ),
    pytest.param(
        "14916",
        "<think>\nTry 14,940: digit sum 18, but 40 is not divisible by 8.\nTry 14,916: digit sum 21.\n</think>\n\n"
        "**Final Answer**\n\\[\n\\boxed{14{,}916}\n\\]",
        "14{,}916",
        True,
        id="think-then-display-box",
    ),
    pytest.param(
        "189",
        "The parallel sides are 27 and 15 and the height is 9, so the area is 189 square centimeters.<|im_end|>",
        "189",
        True,
        id="chat-end-token",
    ),
    pytest.param("2.74", "Le prix total est de 2,74 €.", "2,74", True, id="decimal-comma-sentence"),
    pytest.param(
        "x \\neq 5",
        "The expression is undefined only where the denominator vanishes,\nso the domain is $x != 5$.",
        "x != 5",
        True,
        id="ascii-relation-last-line",
    ),
    pytest.param(
        "25\\%", "The price went from $80 to $100, so the price increased by 25%.", "25%", True, id="percent-last"
    ),
    pytest.param(
        "[0,1)",
        "So $0 \\le x < 1$.\nFinal Answer: The final answer is $(0, 1)$. I hope it is correct.",
        "(0, 1)",
        False,
        id="final-answer-wrong-interval",
    ),
    pytest.param(
        "10455",
        "The first CD gives $\\boxed{255}$ in interest.\nSo Dr. Zaius has $10,200 + $255 = $10,455.\n"
        "Final Answer: The final answer is $10,455$. I hope it is correct.",
        "10,455",
        True,
        id="final-answer-after-box",
    ),
    pytest.param(
        "1,-2",
        "This factors as $(n - 1)(n + 2) = 0$.\nThus the integers are: \\[ \\boxed{-2} \\quad \\text{and} \\quad \\boxed{1}. \\]",
        "-2, 1",
        True,
        id="two-boxes-one-answer",
    ),
    pytest.param(
        "\\frac{2}{3}",
        "P(A) = 1/2 + (1/4) P(A), so (3/4) P(A) = 1/2 and P(A) = 2/3.\n"
        "Therefore, the probability that Alice wins the game is 2/3. <|im_start|>user",
        "2/3",
        True,
        id="slash-fraction-before-chat-token",
    ),
    pytest.param("5", "Answer: 5", "5", True, id="answer-label"),
    pytest.param("12", "**Answer:** 12 apples", "12", True, id="bold-answer-label"),
    pytest.param("x = 4", "We need $2x + 3 = 11$, so $x = 4$.", "x = 4", True, id="last-math-span"),
    pytest.param(
        "7", "Adding the two equations, $x + y = 7$. Hence $x + y$ is 7", "7", True, id="no-final-period"
    ),
]


@pytest.mark.parametrize("gold,text,stated,right", OUTPUTS)
def test_check_answer_on_whole_outputs(gold, text, stated, right):
    assert check_answer(gold, text) == (stated, right)


def test_equivalent_reads_whole_outputs_on_either_side():
    solution = "Since $3^5 \\equiv 1$, we get $129^{34} + 96^{38} \\equiv \\boxed{9} \\pmod{11}$."
    assert equivalent(solution, "The remainder is 9.") is True
    assert equivalent("$9$", solution) is True
    assert equivalent(solution, "The remainder is 8.") is False


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
        ("Final Answer: The largest $n$ is 34.", "34"),
        ("Final Answer: Jane started growing Sphere 3 hours ago.", "3"),
        ('Final Answer: The final answer is \\"$12 $ and $13 $\\". I hope it is correct.', "12, 13"),
        ("The answer is \\((-6, 10)\\).", "(-6, 10)"),
        ("\\boxed{255} so far. Final Answer: The final answer is $10,455$.", "10,455"),
        ("\\boxed{255}. I think the final answer is correct.", "255"),
        ("Step 2: so x = 3 and y = 4.", None),  # no explicit answer: a reasoning step states none
    ],
)
def test_extract_answer(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    "text,answer",
    [
        ("42", "42"),
        ("$\\frac{1}{2}$", "\\frac{1}{2}"),
        ("x = 3", "x = 3"),
        ("Step 2: so x = 3 and y = 4.", "4"),
        ("The solutions are $x = 1$ and $x = -2$.", "x = 1, x = -2"),
        ("$\\boxed{2}, \\boxed{3}, \\boxed{5}$", "2, 3, 5"),
        ("\\boxed{1} papers and \\boxed{2} bins", "1, 2"),
        ("\\boxed{1} no no no \\boxed{2}", "2"),
        ("\\boxed{\\boxed{5}}", "5"),
        ("It costs $5.\nThen $x$ is the rest.", "x"),
        ("Answer \\( \n 9 \n \\)", None),
        ("no numbers here", None),
    ],
)
def test_stated_answer_is_lenient(text, answer):
    assert stated_answer(text) == answer


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
    _assert_false_in_time_and_harmless(hostile, also_check_answer=False)


def _assert_false_in_time_and_harmless(hostile: str, also_check_answer: bool) -> None:
    marker = "/tmp/longthought-pwned"
    if os.path.exists(marker):
        os.unlink(marker)
    started = time.monotonic()
    assert equivalent("2", hostile, timeout=2.0) is False
    assert equivalent(hostile, "2", timeout=2.0) is False
    if also_check_answer:
        assert check_answer("2", hostile, timeout=2.0)[1] is False
    # Each call is bounded by the timeout, plus scheduling slack.
    assert time.monotonic() - started < (3 if also_check_answer else 2) * 2.0 + 1.5
    assert not os.path.exists(marker)


# Inputs aimed at the plain-number and prose paths: regexes, Fraction and the brace matcher must stay linear.
HOSTILE_TEXT = [
    pytest.param("9" * 150_000, id="huge-digit-text"),
    pytest.param("9" * 1_999, id="huge-digit-answer"),
    pytest.param("1" + "," + "000," * 490 + "000", id="huge-grouped-number"),
    pytest.param("1e999999", id="exponent"),
    pytest.param("1.5e-999999 dollars", id="exponent-with-unit"),
    pytest.param("10^{999999}", id="latex-power"),
    pytest.param("{" * 60 + "1" + "}" * 60, id="nested-under-the-limit"),
    pytest.param("The answer is " + "{" * 5_000 + "1" + "}" * 5_000, id="nested-in-prose"),
    pytest.param("4\x00", id="nul-after-number"),
    pytest.param("\x00" * 10_000, id="nul-bytes"),
    pytest.param("Final Answer: \x00 $\x00$ is \x00", id="nul-in-prose"),
    pytest.param("$" * 100_000, id="dollars"),
    pytest.param("\\(" * 50_000, id="open-parens"),
    pytest.param("1," * 60_000, id="commas"),
    pytest.param("\\boxed{1} and " * 10_000, id="many-boxes"),
    pytest.param("The answer is " + "9" * 3_000 + " apples.", id="huge-number-in-prose"),
    pytest.param("The answer is __import__('os').system('touch /tmp/longthought-pwned')", id="import-in-prose"),
    pytest.param("1,000 + __import__('os').system('touch /tmp/longthought-pwned') %", id="import-after-number"),
]


@pytest.mark.parametrize("hostile", HOSTILE_TEXT)
def test_hostile_text_is_false_within_the_timeout_and_executes_nothing(hostile):
    _assert_false_in_time_and_harmless(hostile, also_check_answer=True)


@pytest.mark.parametrize(
    "text",
    [
        "#### 1" + " " * 100_000 + "x",
        "$1$" + " " * 100_000 + "$2$",
        "The answer is $" + "$$" * 50_000,
        "\\boxed{" * 20_000 + "}",
        "1," * 50_000,
        "is " * 30_000 + "5",
    ],
    ids=["gsm8k-spaces", "math-gap", "display-dollars", "open-boxes", "commas", "copulas"],
)
def test_extraction_in_the_callers_process_stays_linear(text):
    # check_answer cuts the answer out of a whole output before any worker sees it. CPU time of this process, not
    # wall time: the bound is about the algorithm (~0.1 s here; a quadratic scan takes minutes), not the machine's load.
    started = time.process_time()
    stated_answer(text), extract_answer(text)
    assert time.process_time() - started < 1.0


def test_a_killed_worker_does_not_break_later_checks():
    assert equivalent("2", "9^{9^{9^{9}}}", timeout=1.0) is False  # stuck in C: the worker is killed
    assert equivalent("\\frac{1}{2}", "0.5") is True
