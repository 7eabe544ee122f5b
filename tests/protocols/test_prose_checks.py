"""The prose checks: each planted defect is found, and clean LaTeX prose (money included) passes."""

import pytest

from protocols.prose_checks import (check_prose, doubled_words, final_statements, latex_outside, lead_in, math_spans,
                                    stutters)


@pytest.mark.parametrize("text, found", [
    ("So $x = \\frac{1}{2}$ and we are done.", []),
    ("So x = \\frac{1}{2} and we are done.", ["\\frac"]),  # moved outside its `$…$`
    ("We get $\\frac{3}{4}$, that is \\cdot 3 more.", ["\\cdot"]),
    ("\\begin{align*} a &= \\sqrt{2} \\end{align*} and \\(\\pi\\) too, \\[x^2\\]", []),
    ("She pays $10 x 1.2 = $12 for it, \\textbf{then} stops.", []),  # prices and text-mode commands
    ("She makes 9\\cdot 2 = $18 every day.", ["\\cdot"]),
    ("The answer is \\boxed{5}.", ["\\boxed"]),
    # a number with a variable is math, not a price ("$10 x" is): MATH500 algebra/1837's reference step
    ("Denali walks $4x$ more dogs, Nate stays at $12$ dogs, or $x$ of them move: so $\\frac{16+4x}{12}$.", []),
])
def test_latex_outside_delimiters_is_found(text, found):
    assert [snippet for snippet in found if not any(snippet in hit for hit in latex_outside(text))] == []
    assert len(latex_outside(text)) == len(found)


def test_a_dollar_sign_is_not_a_delimiter():
    text = "She makes 15 * 2 = $30 every day at the market. So the final answer is $\\boxed{30}$."
    assert [text[start:end] for start, end in math_spans(text)] == ["$\\boxed{30}$"]


@pytest.mark.parametrize("text, found", [
    ("First, first we add 2.", ["First, first"]),
    ("So so the total is 5.", ["So so"]),
    ("The $x$ $x$ cancels and the the sum is 4.", ["the the"]),
    ("We multiply, and then we add.", []),
])
def test_doubled_words(text, found):
    assert doubled_words(text) == found


def test_stutters_stacked_retyped_and_lower_cased_names():
    question = "John has 5 apples and Mary gives him 3. How many does John have?"
    assert stutters("Alternatively, thus, the total is 8.", question) == ["Alternatively, thus"]
    assert stutters("2. Let me try another way. therefore, the total is 8.") == ["therefore, the total is 8"]
    assert stutters("1. First, john has 5 apples.\n\n2. Then mary gives him 3.", question) == [
        "1. First, john", "2. Then mary"]
    clean = "1. First, we note John has 5 apples.\n\n2. Then he gets 3 from Mary, so he has $5 + 3 = 8$."
    assert not check_prose(clean, question)


def test_final_statements_count_each_claim():
    assert final_statements("So the final answer is $\\boxed{3}$. Then the final answer is $\\boxed{4}$.") == 2
    assert final_statements("That would make the answer $\\boxed{3}$. So the final answer is $\\boxed{4}$.") == 1


@pytest.mark.parametrize("connective,body", [("Redoing it, ", "It follows that $c = 33$."),
                                             ("Redoing it, ", "It's given by $b=-2$."),
                                             ("With that, ", "That gives $-2<x-1<4$.")])
def test_lead_in_never_doubles_the_word_it_ends_on(connective, body):
    # found by bench/fidelity.py on MATH500: "Redoing it, it follows", "With that, that gives"
    assert doubled_words(connective + body[0].lower() + body[1:])  # the naive join doubles a word
    assert lead_in(body, connective) == body


def test_lead_in_joins_where_it_reads_well():
    assert lead_in("The sum is $5$.", "Redoing it, ") == "Redoing it, the sum is $5$."


def test_connectives_inside_a_sentence_are_not_stacked():
    # gsm8k_test/87's reference solution, which bench/fidelity.py counted as a stutter
    text = "1. The second time it rang three times as long as the first, so it rang 3 * 4 = 12 times."
    assert stutters(text) == []
    assert stutters("2. Let me try another way. Alternatively, thus, $x = 2$.") == ["Alternatively, thus"]
    assert stutters("First, so we have $x$.") == ["First, so"]
