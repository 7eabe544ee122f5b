"""How the oracle critic catches an error: like a critic that verifies, not like an answer key.

A critic that compared every step with the reference would backtrack at once, always to the newest step, and
could only say "this is not the reference". A solver's critic notices an error some steps later, when a check it
states fails (substituting back, an estimate, a special case, recomputing), or not until the final answer does not
check out; then `backtrack to N` names the FIRST wrong step N, earlier than the newest. `Detection` sets the
delay and the miss rate; a miss is caught at the final answer at the latest (the solver verifies its answer, so a
wrong line never ends accepted). Attempt 3's separate critic (the report's point: an independent critic) notices
sooner and misses less than attempt 2's self-critic, so the two attempts give different journeys.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from agents.backends.oracle.errors import Injection


@dataclass(frozen=True)
class Detection:
    """`miss_rate`: chance an error goes unnoticed until the final answer; `max_delay`: the most steps after the
    error that a noticed error can go unnoticed (the delay is drawn uniformly from 0..max_delay)."""

    miss_rate: float = 0.15
    max_delay: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.miss_rate <= 1:
            raise ValueError(f"miss_rate: expected 0..1, got {self.miss_rate}")
        if self.max_delay < 0:
            raise ValueError(f"max_delay: expected >= 0, got {self.max_delay}")

    def notices(self, wrong: int, newest: int, final: bool, rng: random.Random) -> bool:
        """Whether a critic judging step `newest` notices the error made at step `wrong`. `rng` must be fixed per
        error (not per call), so that a critic that noticed at step 4 would have noticed at step 5 too."""
        missed = rng.random() < self.miss_rate
        delay = rng.randint(0, self.max_delay)
        return final or (not missed and newest - wrong >= delay)


SEPARATE_CRITIC = Detection(miss_rate=0.15, max_delay=2)  # attempt 3: an independent critic
SELF_CRITIC = Detection(miss_rate=0.4, max_delay=3)  # attempt 2: a model judging its own steps is slower to see

_LATER_CHECKS = (
    "Let me substitute these values back into the problem. They do not fit, and the trouble starts in step {k}.",
    "Let me estimate the size of this result. It is not plausible, so something went wrong back in step {k}.",
    "Let me check this against a simple special case. It fails, and that contradicts step {k}.",
    "Let me verify by recomputing from the start. This contradicts what I wrote in step {k}.",
    "Before going on, let me check where these numbers came from. Step {k} does not hold up.",
)
_FINAL_CHECKS = (
    "Let me check this final answer by substituting it back into the problem. It does not satisfy the conditions, "
    "so I went wrong earlier: the trouble starts in step {k}.",
    "Let me sanity-check the final answer with a rough estimate. It is off, so I retrace my steps to step {k}.",
    "Let me verify the answer by working backwards. It does not lead back to the given data; step {k} is where it "
    "breaks.",
)


def noticed_reason(injection: Injection, newest: int, final: bool, rng: random.Random) -> str:
    """What the critic says when it notices: the check it ran and what was wrong and why (never the gold answer)."""
    k = injection.index
    if newest == k:
        return f"{injection.check} {injection.reason}"
    opener = rng.choice(_FINAL_CHECKS if final else _LATER_CHECKS)
    return f"{opener.format(k=k)} {injection.reason}"
