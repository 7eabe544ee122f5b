"""Loop detection: a tail stuck in repetition is flagged; real solutions, short answers and listed cases are not."""

import pytest

from protocols.repetition import MIN_TOKENS, is_looping, seq_rep, tail_repetition, tokens

SOLUTION = ("First prime factorize $196=2^2\\cdot7^2$. The prime factorization of any divisor of 196 cannot include "
            "any primes other than 2 and 7. We are free to choose either 0, 1, or 2 as the exponent of 2 in the prime "
            "factorization of a divisor of 196. Similarly, we may choose 0, 1, or 2 as the exponent of 7. In total, "
            "there are $3\\times 3=9$ possibilities for the prime factorization of a divisor of 196. Distinct prime "
            "factorizations correspond to distinct integers, so there are $\\boxed{9}$ divisors of 196.")


def test_seq_rep_is_the_share_of_repeated_ngrams():
    assert seq_rep(list("abcabc"), n=3) == pytest.approx(1 - 3 / 4)  # abc bca cab abc: one repeat of four
    assert seq_rep(list("abcdef"), n=3) == 0.0 and seq_rep(["a"], n=3) == 0.0


@pytest.mark.parametrize("loop", [
    "Let me check again. " * 80,                                       # a repeated sentence
    "\\frac{1}{2}" * 200,                                               # LaTeX without a space
    "0" * 3000,                                                         # one endless "word"
    "Step 1: x = 2.\nStep 2: y = 3.\nSo x + y = 5.\n" * 40,            # a repeated block of lines
])
def test_a_text_that_ends_in_a_loop_is_flagged_after_a_sane_start(loop):
    assert is_looping(SOLUTION + "\n" + loop)
    assert tail_repetition(SOLUTION + "\n" + loop) > 0.8


def test_real_solutions_short_answers_and_listed_cases_are_not_loops():
    assert not is_looping(SOLUTION) and not is_looping(SOLUTION + " " + SOLUTION.replace("196", "225"))
    assert not is_looping("The answer is 5. " * 3) and len(tokens("The answer is 5. " * 3)) < MIN_TOKENS
    cases = " ".join(f"If $n = {n}$, then $f(n) = {n * n + 1}$ and $g(n) = {3 * n - 2}$." for n in range(1, 40))
    assert not is_looping(cases)
    assert not is_looping(None) and not is_looping("")


def test_a_loop_only_in_the_middle_is_not_a_looping_ending():
    assert not is_looping("blah blah. " * 60 + SOLUTION * 1 + " ".join(f"word{i}" for i in range(300)))


def test_no_math500_reference_solution_is_a_loop(with_data_dir):
    from protocols.problems import load

    scores = [tail_repetition(problem.meta.get("solution")) for problem in load("math500")]
    assert max(scores) < 0.5 and sum(score > 0 for score in scores) > 100  # measured, not vacuously zero
