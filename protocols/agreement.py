"""A second verifier beside ours: math-verify's own extraction and verify, for audits and `--require-agreement`.

Every "correct" label rests on our checker (protocols.answers); a checker false positive becomes a journey that
"ends correct" and a DPO "chosen" answer that is wrong. `verdicts` re-checks answers with both checkers, in the
worker pool (no model text is ever evaluated here); training exports with `--require-agreement` keep only what
both accept (a DPO sample only when both say the same), and count what they dropped in the dataset card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from protocols.answers import equivalent_many, extract_answer, math_verify_many
from protocols.types import SampleSet


@dataclass(frozen=True, kw_only=True)
class AgreementConfig:
    """Whether training data needs both answer checkers to agree."""

    require_agreement: bool = field(default=False, metadata={
        "help": "keep only records whose final answer both our checker and math-verify accept (a DPO sample only "
                "when both give the same verdict); see eval.verify; counted in the dataset card"})


def verdicts(golds: Sequence[str | None], answers: Sequence[str | None], texts: Sequence[str | None] | None = None,
             ) -> tuple[list[bool], list[bool]]:
    """(ours, math-verify) per item: ours on the stated `answers`, math-verify on `texts` (default: the answers)
    with its own extraction."""
    ours = equivalent_many(zip(golds, answers, strict=True))
    second = math_verify_many(zip(golds, texts if texts is not None else answers, strict=True))
    return ours, second


def sample_verdicts(gold: str | None, texts: Sequence[str]) -> tuple[list[bool], list[bool]]:
    """(ours, math-verify) for samples of one problem: ours on the answer we extract, math-verify on the whole text."""
    return verdicts([gold] * len(texts), [extract_answer(text) for text in texts], texts)


def agreement_counts(ours: Sequence[bool], second: Sequence[bool], kept: int) -> dict[str, int]:
    """For a card: how many were checked, kept, and how the two checkers split."""
    return {"checked": len(ours), "kept": kept,
            "both_accept": sum(a and b for a, b in zip(ours, second, strict=True)),
            "only_ours": sum(a and not b for a, b in zip(ours, second, strict=True)),
            "only_math_verify": sum(b and not a for a, b in zip(ours, second, strict=True))}


def agreeing(golds: Sequence[str | None], answers: Sequence[str | None]) -> tuple[list[int], dict[str, int]]:
    """(indices whose final answer both checkers accept, counts for the card)."""
    ours, second = verdicts(golds, answers)
    kept = [index for index, (a, b) in enumerate(zip(ours, second, strict=True)) if a and b]
    return kept, agreement_counts(ours, second, len(kept))


def agreeing_samples(sets: list[SampleSet]) -> tuple[list[SampleSet], dict[str, int]]:
    """The sample sets with only the samples on which math-verify gives our verdict (`Sample.correct`): a positive
    both accept, a negative both reject; and the counts for the card."""
    ours: list[bool] = []
    second: list[bool] = []
    result = []
    for sample_set in sets:
        texts = [sample.text for sample in sample_set.samples]
        mine = [sample.correct for sample in sample_set.samples]
        theirs = math_verify_many([(sample_set.problem.answer, text) for text in texts])
        ours += mine
        second += theirs
        kept = [sample for sample, a, b in zip(sample_set.samples, mine, theirs, strict=True) if a == b]
        result.append(sample_set.model_copy(update={"samples": kept}))
    kept_count = sum(len(sample_set.samples) for sample_set in result)
    return result, agreement_counts(ours, second, kept_count)
