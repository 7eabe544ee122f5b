"""What a checker process runs: cut out two stated answers and compare them as text, as numbers, then as LaTeX.

Equivalence uses math-verify's LaTeX path only: its plain-expression path calls sympy's `parse_expr`, which
`eval`s text, and model text must never be evaluated.
"""

from __future__ import annotations

import re

from protocols.answers.extract import stated_answer
from protocols.answers.limits import too_deep, too_hostile
from protocols.answers.numbers import number_form, numbers_agree, plain_number


def _answer_of(text: str) -> str:
    return stated_answer(text) or text


_TEXT_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{([^{}]*)\}")


def normalize(answer: str) -> str:
    """A cheap canonical string form, for answers that are equal as text (names, options, intervals)."""
    answer = _TEXT_WRAPPERS.sub(r"\1", answer)
    for old, new in (("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\left", ""), ("\\right", ""), ("\\!", "")):
        answer = answer.replace(old, new)
    answer = answer.replace("$", "").replace(" ", "").rstrip(".").lower()
    return answer


def _as_latex(answer: str) -> str:
    # Wrapping in \boxed{} makes math-verify's LaTeX extractor read the whole answer as one expression.
    return answer if "\\boxed" in answer else f"\\boxed{{{answer}}}"


def same_answer(gold: str, predicted: str) -> bool:
    """Runs in a worker: cut out the stated answers; plain numbers compare as fractions, the rest as LaTeX."""
    gold_answer, predicted_answer = _answer_of(gold), _answer_of(predicted)
    if not gold_answer.strip() or not predicted_answer.strip():
        return False
    if too_hostile(gold_answer) or too_hostile(predicted_answer):
        return False
    if normalize(gold_answer) == normalize(predicted_answer):
        return True
    gold_number, predicted_number = plain_number(gold_answer), plain_number(predicted_answer)
    if gold_number and predicted_number and numbers_agree(gold_number, predicted_number):
        return True
    # A number's clean decimal is a second reading of the same answer: "1,000.5€" meets "\frac{2001}{2}".
    gold_forms = [gold_answer] + ([number_form(gold_number)] if gold_number else [])
    predicted_forms = [predicted_answer] + ([number_form(predicted_number)] if predicted_number else [])
    return latex_same(gold_forms, predicted_forms)


def latex_same(gold_forms: list[str], predicted_forms: list[str]) -> bool:
    """Whether any reading of gold matches any reading of the prediction, by math-verify's LaTeX path."""
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]

    def parsed(forms: list[str]) -> list:
        results = (parse(_as_latex(form), config, parsing_timeout=None) for form in dict.fromkeys(forms))
        return [result for result in results if result]

    gold_parsed, predicted_parsed = parsed(gold_forms), parsed(predicted_forms)
    return any(verify(g, p, timeout_seconds=None) for g in gold_parsed for p in predicted_parsed)


def _delimited(text: str) -> str:
    # A bare answer ("9", "p - q") has no math delimiters for math-verify's LaTeX extractor to find.
    return text if any(mark in text for mark in ("$", "\\(", "\\[", "\\boxed")) else f"${text}$"


def math_verify_same(gold: str, text: str) -> bool:
    """Runs in a worker: math-verify's own extraction and verify on the gold and on the answer text, none of ours
    (no stated_answer cut, no number reading). Its LaTeX extractor only: the expression one `eval`s text."""
    from math_verify import LatexExtractionConfig, parse, verify

    if too_deep(gold) or too_deep(text):
        return False
    config = [LatexExtractionConfig()]
    gold_parsed = parse(_delimited(gold), config, parsing_timeout=None)
    text_parsed = parse(_delimited(text), config, parsing_timeout=None)
    return bool(gold_parsed and text_parsed and verify(gold_parsed, text_parsed, timeout_seconds=None))
