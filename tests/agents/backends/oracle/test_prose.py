"""The oracle's rewrites and expansions read as text a model should learn from, and stay faithful."""

import random

from agents.backends.oracle.annotations import annotation_text
from agents.backends.oracle.expansion import CLOSING, SENTENCES
from agents.backends.oracle.prose import CONNECTIVES, NOT_FINAL, lead_in, restyle
from agents.backends.oracle.reference import reference_for, seeded, wrong_variant
from agents.backends.oracle.roles import Behaviour, Oracle
from protocols.annotation import parse, render_draft
from protocols.answers import last_boxed
from protocols.problems import load
from protocols.prose_checks import check_prose, final_statements, latex_outside
from synthesis.rewrite import check_faithful


def _draft(reference):
    """A DFS-style draft: the steps, one wrong variant with its reason, going back, the rest of the reference."""
    wrong_at = next((index for index in range(1, len(reference) + 1)
                     if wrong_variant(reference, index, seeded(index)) is not None), None)
    lines = [f"{index}. {reference.step(index)}" for index in range(1, (wrong_at or 1))]
    texts = [reference.step(index) for index in range(1, wrong_at or 1)]
    if wrong_at is not None:
        variant, slip = wrong_variant(reference, wrong_at, seeded(wrong_at))
        lines += [f"{wrong_at}. {variant}", slip.reason(), f"Let me go back to step {wrong_at} and redo it."]
        texts += [variant, slip.reason()]
    for index in range(wrong_at or 1, len(reference) + 1):
        lines.append(f"{index}. {reference.step(index)}")
        texts.append(reference.step(index))
    return "\n\n".join(lines), texts


def _once(text, answer):
    boxed = text.count(f"\\boxed{{{answer}}}")
    return final_statements(text) == 1 and boxed == 1 and last_boxed(text) == answer


def test_rewrites_of_real_math500_drafts_pass_the_prose_checks_and_state_the_answer_once(with_data_dir):
    for problem in load("math500", limit=12):
        reference = reference_for(problem)
        draft, texts = _draft(reference)
        rewrite = Oracle(reference, Behaviour(), seed=0).rewrite(draft)
        assert not check_prose(rewrite, problem.question), (problem.id, check_prose(rewrite, problem.question))
        assert _once(rewrite, reference.answer), problem.id
        assert check_faithful(texts, rewrite, reference.answer).faithful, problem.id


def test_expansions_of_real_math500_annotations_write_prose_about_the_attempt_and_correction(with_data_dir):
    for problem in load("math500", limit=12):
        annotation, _ = parse(annotation_text(problem, "math500"), problem.id)
        draft = render_draft(annotation)
        expansion = Oracle(reference_for(problem), Behaviour(), seed=0).expand(draft)
        assert not check_prose(expansion, problem.question), (problem.id, check_prose(expansion, problem.question))
        assert _once(expansion, annotation.final_answer), problem.id
        journey = [text for block in annotation.blocks if block.marker in ("attempt", "reflection", "correction")
                   for _, text in block.lines]
        assert check_faithful(journey, expansion, annotation.final_answer).faithful, problem.id
        # real prose around the notes: not the draft with its fixed openers
        assert "Let me try this." not in expansion and "That was wrong; let me correct it." not in expansion
        assert sum(sentence.split("{")[0] in expansion for sentence in SENTENCES) >= 3, expansion


def test_expansion_names_what_the_correction_changed():
    draft = ("Let me try this.\nJanet sells 16 - 3 - 4 = 19 eggs.\n\nWait.\nI wrote 19 where it should be 9.\n\n"
             "That was wrong; let me correct it.\nJanet sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = 18 dollars.\n\n"
             "So the final answer is:\n\\boxed{18}")
    from agents.backends.oracle.expansion import expand

    texts = {expand(draft, random.Random(seed)) for seed in range(12)}
    assert len(texts) > 3  # the banks vary with the seed
    for text in texts:
        assert "19" in text.split("I wrote 19")[0]  # the doubt names the value before the reflection says it
        assert any(f"{new}" in text and "9" in text for new in ("9 instead of 19", "9 in place of 19",
                                                                "9 rather than 19"))
        assert _once(text, "18") and not check_prose(text)


def test_lead_in_never_stutters_or_lowercases_a_name():
    assert lead_in("So the total is 5.", "Next, ") == "So the total is 5."
    assert lead_in("John has 5 apples.", "First, ") == "John has 5 apples."
    assert lead_in("We add 2 and 3.", "Next, ") == "Next, we add 2 and 3."
    assert lead_in("First let's count the apples.", "First, ") == "First let's count the apples."
    assert lead_in("$x = 3$ works.", "Then ") == "Then $x = 3$ works."


def test_restyle_keeps_every_piece_of_math_inside_delimiters():
    for text in ("It takes 2/2=1 bolt", "So $x = 1/2$ and 3 * 4 = 12", "I wrote 4\\sqrt{13}, not 3\\sqrt{13}.",
                 "She pays $10 x 1.2 = $12 a day", "The answer is \\boxed{5}."):
        assert latex_outside(restyle(text)) == [], restyle(text)
    assert restyle("So $x = 1/2$") == "So $x = \\frac{1}{2}$"
    assert restyle("It takes 2/2=1 bolt") == "It takes $\\frac{2}{2}=1$ bolt"


def test_banks_hold_no_phrase_twice_and_no_final_claim_but_the_closing():
    phrases = [*CONNECTIVES, *NOT_FINAL, *SENTENCES]
    assert len(phrases) == len(set(phrases))
    assert [phrase for phrase in phrases if "final" in phrase and phrase not in CLOSING] == []
