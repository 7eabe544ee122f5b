"""A rendered long thought reads as one solver's text: no stacked openers, LaTeX in its delimiters, one final answer."""

import re

import pytest

from eval.template_split import RENDER_PHRASES, _OPENERS
from prompts import render
from protocols.loop import LoopState
from protocols.prose_checks import check_prose, final_statements, latex_outside
from protocols.render import CLOSING, long_thought
from protocols.types import Action, Verdict


def _verdict(action: str, reason: str = "", to: int | None = None) -> Verdict:
    return Verdict(action=Action(action), reason=reason, backtrack_to=to, raw=f"{action} {reason}")


def _redone(step: str, lead: int, wrong: str = "2x = 8, so x = 3") -> str:
    """A long thought whose step 1 is wrong, backtracked and redone as `step`; `lead` earlier turns shift the
    phrasing variant the redone step gets (variants are picked by turn position)."""
    state = LoopState()
    for _ in range(lead):
        state.add_step("Let x be the unknown.")
        state.apply(_verdict("continue"))
    state.add_step(wrong)
    state.apply(_verdict("backtrack", "2 * 3 is 6.", to=lead + 1))
    state.add_step(step, answer="4", correct=True)
    state.apply(_verdict("terminate"))
    return long_thought(state.tree, state.turns, "4")


@pytest.mark.parametrize("lead", [0, 1, 2])
@pytest.mark.parametrize("step", ["Therefore, x = 8 / 2 = 4.", "So x = 8 / 2 = 4.", "Hence x = 4.",
                                  "Thus, dividing by 2, x = 4.", "But 2x = 8 gives x = 4."])
def test_a_redone_step_that_opens_with_a_connective_gets_no_opener(step, lead):
    text = _redone(step, lead)
    assert f"{lead + 1}. {step}" in text
    assert check_prose(text).stutters == [], text


@pytest.mark.parametrize("lead", [0, 1, 2])
def test_a_redone_step_gets_an_opener_that_reads_well(lead):
    text = _redone("We divide both sides by 2, so x = 4.", lead)
    line = text.split("\n\n")[-2]
    assert line in (f"{lead + 1}. Alternatively, we divide both sides by 2, so x = 4.",
                    f"{lead + 1}. Let me try another way. We divide both sides by 2, so x = 4.",
                    f"{lead + 1}. Instead, we divide both sides by 2, so x = 4."), text
    assert not check_prose(text), text


def test_a_name_is_never_lower_cased_behind_an_opener():
    for lead in range(3):
        text = _redone("Janet sells 8 / 2 = 4 eggs.", lead)
        assert "Janet sells 8 / 2 = 4 eggs." in text and "janet" not in text
        assert not check_prose(text, "Janet sells eggs."), text


def test_one_final_answer_when_every_answer_step_calls_itself_final():
    state = LoopState()
    state.add_step("2x = 8, so x = 3. So the final answer is $\\boxed{3}$.", answer="3", correct=False)
    state.apply(_verdict("backtrack", "The final answer 3 does not check out: 2 * 3 is 6.", to=1))
    state.add_step("Dividing by 2, x = 4. So the final answer is $\\boxed{4}$.", answer="4", correct=True)
    state.apply(_verdict("terminate"))
    text = long_thought(state.tree, state.turns, "4")
    assert final_statements(text) == 1, text
    assert text.endswith("So the final answer is $\\boxed{4}$.")  # the last step's own, no closing line after it
    assert "So the answer is $\\boxed{3}$." in text and "The answer 3 does not check out" in text
    assert text.count("\\boxed{4}") == 1


@pytest.mark.parametrize("answer", ["4", "\\frac{1}{2}", "3\\sqrt{13}"])
def test_the_closing_line_keeps_latex_inside_delimiters(answer):
    state = LoopState()
    state.add_step("The final answer must be what the steps give.")  # not the last step: not final
    state.apply(_verdict("continue"))
    state.add_step(f"The final result is ${answer}$.", answer=answer, correct=True)  # stated, but not boxed
    state.apply(_verdict("terminate"))
    text = long_thought(state.tree, state.turns, answer)
    assert text.endswith(CLOSING.format(answer=answer))
    assert latex_outside(text) == [] and final_statements(text) == 1, text
    assert "The answer must be" in text and "The result is" in text


def test_the_placeholder_render_keeps_the_choices_made_on_the_real_text():
    text = _redone("Therefore, x = 4.", 2)
    blank = _redone_blank("Therefore, x = 4.", 2)
    assert "Instead" not in blank and "Therefore" not in blank and blank.count("x") >= 2
    assert re.search(r"\d\. (?:Alternatively,|Instead,|Let me try another way\.) x\n", _redone_blank("We get 4.", 2))
    assert text != blank


def _redone_blank(step: str, lead: int) -> str:
    state = LoopState()
    for _ in range(lead):
        state.add_step("Let x be the unknown.")
        state.apply(_verdict("continue"))
    state.add_step("2x = 8, so x = 3")
    state.apply(_verdict("backtrack", "2 * 3 is 6.", to=lead + 1))
    state.add_step(step, answer="4", correct=True)
    state.apply(_verdict("terminate"))
    return long_thought(state.tree, state.turns, "4", placeholder="x")


def test_the_template_split_knows_every_phrase_the_renderer_writes():
    # the split's fallback (records of an older renderer) finds each redo opener where the renderer puts it
    for variant in range(3):
        opener = render("render/after_backtrack", variant=variant)
        line = f"Wait, no.\n\n2. {opener} we get 4."
        found = [match.group(1) for match in _OPENERS.finditer(line)]
        found += [own for regex, own in RENDER_PHRASES if regex.search(line) and own != "Wait"]
        assert any(opener.rstrip(",.") in piece for piece in found), opener
    closing = CLOSING.format(answer="7")
    assert any(regex.fullmatch(closing) for regex, _ in RENDER_PHRASES)
