"""What the oracle writes for each role, read from the prompts our templates render.

Every role answers in exactly the format its prompt asks for: a policy the next numbered step (or, at the error
rate, a wrong variant, but never on a retry after feedback: a competent model takes the correction); a critic
`ACTION/REASON` lines with the right "backtrack to N" (N = the first wrong step); a self-critiquing proposer both;
a judge JSON; a rollout or a sampler a whole numbered solution; a rewriter the draft rephrased with its math in
LaTeX and seeded connectives (agents.backends.oracle.rewriter), an expander prose around each attempt and correction of
an annotation (agents.backends.oracle.expansion), every step kept (the `lossy` variant drops the first wrong step).
Reasons are first person.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from agents.backends.oracle.detection import SELF_CRITIC, SEPARATE_CRITIC, Detection, noticed_reason
from agents.backends.oracle.errors import DEFAULT_MIX, Injection, choose, injections
from agents.backends.oracle.expansion import expand
from agents.backends.oracle.rewriter import rewrite
from agents.backends.oracle.reference import (
    Reference, Slip, final_sentence, first_wrong, one_line, propagate, same, seeded, slip_between, template,
    wrong_answer, wrong_variant,
)
from protocols.answers import last_boxed

_STEP_LINE = re.compile(r"^(\d+)\.\s+(.*)$")
_WRITE_STEP = re.compile(r"Write step (\d+)")
_NEWEST = re.compile(r"^Newest step:\s*(\d+)\.\s+(.*)$", re.MULTILINE)
_CHECK = re.compile(r"^Step to check:\n(\d+)\.\s+(.*)$", re.MULTILINE)
_SIGNAL = re.compile(r"Checked automatically: the final answer .* is (CORRECT|WRONG)\.")


class OracleRoleError(ValueError):
    """The prompt asks for something the oracle cannot tell how to play."""


@dataclass(frozen=True)
class Behaviour:
    """The oracle variant a model string names: its error rate and mix of error kinds (agents.backends.oracle.errors),
    how its critic detects errors (None: the role's default, agents.backends.oracle.detection), and whether its rewrites
    drop a wrong step."""

    error_rate: float = 0.0
    lossy: bool = False
    mix: tuple[tuple[str, float], ...] = tuple(DEFAULT_MIX.items())
    miss_rate: float | None = None
    max_delay: int | None = None

    def detection(self, role: str) -> Detection:
        default = SELF_CRITIC if role == "proposer" else SEPARATE_CRITIC
        return Detection(miss_rate=default.miss_rate if self.miss_rate is None else self.miss_rate,
                         max_delay=default.max_delay if self.max_delay is None else self.max_delay)


@lru_cache(maxsize=8192)
def _offered(problem_id: str, bodies: tuple[str, ...], question: str, answer: str, index: int) -> tuple[Injection, ...]:
    return tuple(injections(bodies, index, (problem_id,), question=question, answer=answer))


def _numbered_block(text: str, header: str) -> list[str]:
    """The numbered lines after `header` (continuation lines join the step above), up to a blank line."""
    if header not in text:
        return []
    steps: list[str] = []
    for line in text.split(header, 1)[1].lstrip("\n").splitlines():
        if not line.strip():
            break
        match = _STEP_LINE.match(line)
        if match:
            steps.append(match.group(2))
        elif steps:
            steps[-1] += " " + line.strip()
        else:
            break
    return steps


class Oracle:
    """One problem's reference, played in every role; `seed` and `sample` make n samples of one call differ."""

    def __init__(self, reference: Reference, behaviour: Behaviour, seed: int):
        self.reference = reference
        self.behaviour = behaviour
        self.seed = seed
        self.problem_id = reference.problem.id

    # -- deciding a step -----------------------------------------------------------------------------------------
    def offered(self, index: int) -> tuple[Injection, ...]:
        """The errors the error model offers at step `index` (deterministic per problem)."""
        reference = self.reference
        if not 1 <= index <= len(reference):
            return ()
        return _offered(self.problem_id, reference.bodies, reference.problem.question, reference.answer, index)

    def _rate(self) -> float:
        """The chance that a step with an error on offer gets one: `error_rate` of all steps are wrong on
        average although some steps offer none (a step with nothing to recompute cannot be wrong by value)."""
        rate = self.behaviour.error_rate
        if rate <= 0:
            return 0.0
        available = sum(bool(self.offered(index)) for index in range(1, len(self.reference) + 1))
        if not available:
            return 0.0
        # A short solution at 30% a step would often go through with no error at all (0.7^2 = 49% of two-step
        # GSM8K solutions): a first pass holds an error at least 2.5 times the rate (75% at e30), as the report's
        # journeys nearly always do. Retries never err, so over a whole episode the share of wrong steps stays low.
        at_least_one = min(0.95, 2.5 * rate)
        # capped: a step with its only wrong variants on offer must still be right often enough to be found
        return min(0.75, max(rate * len(self.reference) / available, 1 - (1 - at_least_one) ** (1 / available)))

    def _errs(self, index: int, sample: int) -> bool:
        rate = self._rate()
        if sample > 0:  # the other samples of one request (a tree's siblings): not all wrong at once, as a rule
            rate = min(rate, 0.5)
        return rate > 0 and seeded(self.problem_id, index, self.seed, sample, "error").random() < rate

    def line(self, steps: list[str]) -> Injection | None:
        """The injected error whose wrong line `steps` follow (matched by its first wrong step), if any."""
        wrong = first_wrong(self.reference, steps)
        if wrong is None or wrong > len(self.reference):
            return None
        return next((injection for injection in self.offered(wrong) if same(injection.steps[0], steps[wrong - 1])),
                    None)

    def _line_slip(self, steps: list[str]) -> Slip | None:
        """How the path went wrong (its first wrong step's slip), None when it is the reference so far."""
        wrong = first_wrong(self.reference, steps)
        if wrong is None or wrong > len(self.reference):
            return None if wrong is None else slip_between(self.reference.step(len(self.reference)), steps[-1])
        return slip_between(self.reference.step(wrong), steps[wrong - 1])

    def next_step(self, steps: list[str], index: int, sample: int, retry: bool) -> str:
        """Step `index` after `steps`: the reference, a fresh error, or the next step of the wrong line it is on."""
        last = len(self.reference)
        index = min(index, last)  # a path longer than the reference: state the final answer
        before = steps[: index - 1]
        injection = self.line(before)
        if injection is not None:  # on a wrong line: carry the wrong value on, consistently
            return injection.steps[index - injection.index]
        slip = self._line_slip(before)
        if slip is not None:  # a wrong step the error model did not write (another model's, a rewrite's)
            text = self.reference.step(index)
            if index == last:
                return f"{self.reference.bodies[-1]} {final_sentence(wrong_answer(self.reference.answer))}"
            return propagate(text, slip)
        if not retry and self._errs(index, sample):
            rng = seeded(self.problem_id, index, self.seed, sample, "variant")
            chosen = choose(list(self.offered(index)), dict(self.behaviour.mix), rng)
            if chosen is not None:
                return chosen.steps[0]
        return self.reference.step(index)

    def solution(self, steps: list[str], sample: int) -> str:
        """The rest of a solution from `steps` on, numbered, ending in a boxed final answer."""
        written = list(steps)
        for index in range(len(steps) + 1, len(self.reference) + 1):
            written.append(self.next_step(written, index, sample, retry=False))
        lines = [f"{index}. {text}" for index, text in enumerate(written, start=1)][len(steps):]
        return "\n".join(lines) if lines else f"{len(steps)}. {final_sentence(self.reference.answer)}"

    # -- judging a step ------------------------------------------------------------------------------------------
    def why_wrong(self, index: int, text: str, steps: list[str] | None = None) -> str:
        if index > len(self.reference):
            return "I should have stopped: the previous step already gives the final answer."
        injection = next((found for found in self.offered(index) if same(found.steps[0], text)), None)
        if injection is not None:
            return injection.reason
        if steps is not None and (line := self.line(steps)) is not None:
            return f"This builds on the wrong value from step {line.index}. {line.reason}"
        expected = self.reference.step(index)
        if template(text) != template(expected):
            return "I cannot justify this step from what I have so far."
        return slip_between(expected, text).reason()

    def verdict(self, steps: list[str], newest: str, index: int, signal: str | None,
                role: str = "critic") -> tuple[str, str]:
        """(ACTION line value, first-person reason) for the newest step, as a critic that knows the reference but
        notices an error as a solver would: after a delay, or not until it checks the final answer."""
        path = [*steps, newest]
        wrong = first_wrong(self.reference, path)
        final = index >= len(self.reference)
        if signal == "CORRECT" or (wrong is None and final):
            return "terminate", "I have the final answer and it checks out."
        if wrong is None and signal != "WRONG":
            return "continue", "This step follows from the ones before it."
        wrong = wrong or index
        injection = self.line(path[:wrong])
        if injection is None:  # an error the model did not write: caught at once, as before
            reason = self.why_wrong(wrong, path[wrong - 1])
            if wrong == index and not final and seeded(self.problem_id, index, self.seed, "reflect").random() < 1 / 3:
                return "reflect", reason
            return f"backtrack to {wrong}", reason
        detection = self.behaviour.detection(role)
        rng = seeded(self.problem_id, injection.index, injection.steps[0], role, "detect")
        if not detection.notices(injection.index, index, final or signal == "WRONG", rng):
            return "continue", "This step follows from the ones before it."
        reason = noticed_reason(injection, index, final, rng)
        # A slip in the newest step is sometimes reflected on in place (the revision becomes its sibling); a
        # wrong final answer never is: the journey goes back to where it went wrong.
        if wrong == index and not final and rng.random() < 1 / 3:
            return "reflect", reason
        return f"backtrack to {wrong}", reason

    def judgement(self, steps: list[str], text: str, index: int) -> dict:
        ok = index <= len(self.reference) and same(text, self.reference.step(index))
        reason = "This step follows from the ones before it." if ok else self.why_wrong(index, text, steps)
        return {"correct": ok, "score": 1.0 if ok else 0.0, "reason": reason}

    # -- rewriting -----------------------------------------------------------------------------------------------
    def _is_slip_line(self, line: str) -> bool:
        body = _STEP_LINE.match(line).group(2) if _STEP_LINE.match(line) else line
        body = one_line(body)
        steps = self.reference.steps()
        if any(same(body, injection.steps[0]) for index in range(1, len(steps) + 1) for injection in self.offered(index)):
            return True
        return not any(same(body, step) for step in steps) and any(template(body) == template(step) for step in steps)

    def rewrite(self, draft: str, sample: int = 0) -> str:
        """Attempt 1's rewrite of a draft (agents.backends.oracle.rewriter); the lossy variant drops the first wrong
        step."""
        lines = [line for line in draft.splitlines() if line.strip()]
        if self.behaviour.lossy:
            dropped = next((position for position, line in enumerate(lines) if self._is_slip_line(line)), None)
            if dropped is not None:
                del lines[dropped]
        return rewrite(lines, seeded(self.problem_id, self.seed, sample, "rewrite"))

    def expand(self, notes: str, sample: int = 0) -> str:
        """Attempt 4's expansion of an annotation draft (agents.backends.oracle.expansion); lossy: the first wrong line
        is dropped first."""
        if self.behaviour.lossy:
            lines = notes.split("\n")
            dropped = next((position for position, line in enumerate(lines)
                            if line.strip() and self._is_slip_line(line)), None)
            if dropped is not None:
                del lines[dropped]
            notes = "\n".join(lines)
        return expand(notes, seeded(self.problem_id, self.seed, sample, "expand"))


# -- reading a prompt ----------------------------------------------------------------------------------------------
def role_of(text: str) -> str:
    """Which role a prompt (all messages joined) asks the model to play."""
    checks = (
        ("preflight", "Reply with OK."),
        ("rewriter", "Rewrite it as one fluent first-person train of thought"),
        ("expander", "Expand their notes into a long first-person train of thought"),
        ("judge", "Reply with JSON only"),
        ("rollout", "Continue from here to the end"),
        ("critic", "Newest step:"),
        ("proposer", "you judge your own work"),
        ("policy", "Write step "),
        ("sampler", "Solve this step by step"),
    )
    for role, marker in checks:
        if marker in text:
            return role
    raise OracleRoleError("oracle: cannot tell which role this prompt asks for (not one of longthought's prompts)")


def reply(oracle: Oracle, text: str, sample: int) -> str:
    """The oracle's reply to a prompt (all messages joined), for sample number `sample`."""
    role = role_of(text)
    if role == "preflight":
        return "OK"
    if role == "rewriter":
        return oracle.rewrite(text.split("Draft:\n", 1)[1] if "Draft:\n" in text else text, sample)
    if role == "expander":
        return oracle.expand(text.split("Notes:\n", 1)[1] if "Notes:\n" in text else text, sample)
    if role == "judge":
        steps = _numbered_block(text, "Earlier steps (assume they are given):")
        match = _CHECK.search(text)
        index, step = (int(match.group(1)), match.group(2)) if match else (len(steps) + 1, "")
        return json.dumps(oracle.judgement(steps, step, index))
    if role == "critic":
        steps = _numbered_block(text, "Steps so far:")
        match = _NEWEST.search(text)
        index, step = (int(match.group(1)), match.group(2)) if match else (len(steps) + 1, "")
        signal = _SIGNAL.search(text)
        action, reason = oracle.verdict(steps, step, index, signal.group(1) if signal else None, role="critic")
        return f"ACTION: {action}\nREASON: {reason}"
    if role in ("rollout", "sampler"):
        return oracle.solution(_numbered_block(text, "Steps so far:"), sample)
    steps = _numbered_block(text, "Steps so far:")
    found = _WRITE_STEP.search(text)
    index = int(found.group(1)) if found else len(steps) + 1
    retry = "A check of your last step:" in text or "\nNote:" in text
    step = oracle.next_step(steps, index, sample, retry)
    if role == "policy":
        return f"{index}. {step}"
    action, reason = oracle.verdict(steps, step, index, None, role="proposer")  # the proposer judges its own step
    return f"{index}. {step}\nACTION: {action}\nREASON: {reason}"
