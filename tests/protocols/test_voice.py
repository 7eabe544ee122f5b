import re

import pytest

from protocols.voice import NEUTRAL_REASON, first_person


def names_a_third_party(text: str) -> bool:
    """Whether `text` talks about a student, policy, critic or assistant (what a long thought must never do)."""
    return re.search(r"\bthe\s+(?:student|policy|critic|assistant)\b", text, re.IGNORECASE) is not None


@pytest.mark.parametrize(
    "reason,expected",
    [
        ("The student divided by 2 instead of multiplying.", "I divided by 2 instead of multiplying."),
        ("The student multiplies the wrong terms.", "I multiply the wrong terms."),
        ("The policy has the right equation.", "I have the right equation."),
        ("You forgot the negative root.", "I forgot the negative root."),
        ("Your answer misses a factor of 2.", "My answer misses a factor of 2."),
        ("The student should check the sign.", "I should check the sign."),
        ("The assistant's sum is 12, not 13.", "My sum is 12, not 13."),
        ("I divided by 2 instead of multiplying by 2.", "I divided by 2 instead of multiplying by 2."),
        ("2 * 3 is 6, not 8", "2 * 3 is 6, not 8"),
        # what cannot be made first person is replaced, never pasted after "Wait,"
        ("The critic thinks this is fine.", NEUTRAL_REASON),
        ("They forgot the constant.", NEUTRAL_REASON),
    ],
)
def test_reasons_become_the_solvers_own_thought(reason, expected):
    assert first_person(reason) == expected
    assert not names_a_third_party(first_person(reason))
