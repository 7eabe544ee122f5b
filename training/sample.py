"""N samples per problem through litellm, classified by answer correctness: the raw material of DPO pairs.

A sampling run is a resumable run like every other (`synthesis.engine`): one `SampleSet` line per problem in
OUT/records.jsonl, so a crash loses no finished problem and a rerun samples only what is missing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from agents.calls.model_role import model_role
from protocols.types import Problem, SampleSet


@dataclass(frozen=True)
class SamplingConfig(model_role("sampler_", "sampler",
                                model_help="litellm model that samples (hf/PATH for a checkpoint)")):
    """The report's DPO sampling: 20 samples per problem at temperature 0.7, top_p 0.95."""

    samples: int = field(default=20, metadata={"help": "samples per problem"})
    sampler_temperature: float = field(default=0.7, metadata={"help": "sampler's sampling temperature"})
    sampler_top_p: float = field(default=0.95, metadata={"help": "sampler's nucleus sampling (top_p)"})
    # Long thoughts run to thousands of tokens (the report's journey model answers at length): a 1024 cap cut them
    # before their \boxed{} and turned them into negatives. Cut samples are now excluded from pairs and counted.
    sampler_max_tokens: int = field(default=4096, metadata={"help": "max tokens of one sample"})


@dataclass
class PairStats:
    problems: int = 0
    with_pairs: int = 0
    no_positive: int = 0
    no_negative: int = 0
    gold_fallback: int = 0
    truncated_excluded: int = 0  # samples cut at --sampler-max-tokens: neither chosen nor rejected
    looping_excluded: int = 0  # right answers whose text ends in a loop (protocols.repetition): never chosen
    pairs: int = 0


def make_pairs(sets: list[SampleSet], pairs: int, seed: int = 0,
               gold_fallback: bool = False) -> tuple[list[tuple[Problem, str, str]], PairStats]:
    """Up to `pairs` (chosen, rejected) per problem, positives and negatives drawn at random without replacement.

    Problems with no positive or no negative sample are counted and skipped; with `gold_fallback`, a problem with
    no positive uses its numbered reference solution as the one positive (useful for weak samplers).
    """
    from training.formats import numbered_solution

    stats = PairStats(problems=len(sets))
    result = []
    for sample_set in sets:
        rng = random.Random(f"{seed}:{sample_set.problem_id}")
        # A cut sample says nothing about the model's answer: as a negative it would teach "do not think long".
        stats.truncated_excluded += sum(sample.truncated for sample in sample_set.samples)
        # A right answer followed by a loop would teach the loop: such a sample is never "chosen". A wrong one that
        # loops stays a rejected answer (looping is what it should learn not to do).
        looping = [sample for sample in sample_set.positives if not sample.truncated and sample.looping]
        stats.looping_excluded += len(looping)
        positives = [sample.text for sample in sample_set.positives if not sample.truncated and not sample.looping]
        negatives = [sample.text for sample in sample_set.negatives if not sample.truncated]
        solution = sample_set.problem.meta.get("solution")
        if not positives and gold_fallback and solution:
            positives = [numbered_solution(solution)]
            stats.gold_fallback += 1
        if not positives:
            stats.no_positive += 1
            continue
        if not negatives:
            stats.no_negative += 1
            continue
        count = min(pairs, len(positives), len(negatives))
        chosen, rejected = rng.sample(positives, count), rng.sample(negatives, count)
        result += [(sample_set.problem, good, bad) for good, bad in zip(chosen, rejected, strict=True)]
        stats.with_pairs += 1
    stats.pairs = len(result)
    return result, stats
