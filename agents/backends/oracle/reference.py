"""A problem's reference solution as numbered steps, the seeded wrong variants of a step, and how a step compares.

The oracle model (agents.backends.oracle) plays every role from these: a policy writes the next reference step or, at
its error rate, a wrong variant; a critic or judge compares a step with the reference. Steps are one line each (a
policy's reply is split on numbered lines), about `MAX_STEPS` of them, and only the last one states the final
answer (`\\boxed{}` elsewhere is unwrapped, and "the answer is" becomes "the result is", so that no earlier step
reads as a final answer to `protocols.answers.extract_answer`).
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from functools import lru_cache

from protocols.answers import last_boxed
from protocols.types import Problem

MAX_STEPS = 6  # a long MATH solution is grouped into about this many steps
MAX_STEP_CHARS = 600
_MIN_STEP_CHARS = 30  # shorter sentences join the next one
_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.DOTALL)
_CALCULATOR = re.compile(r"<<[^<>]*>>")  # GSM8K's calculator annotations
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_WORD = re.compile(r"\b(final\s+)?answer\b", re.IGNORECASE)
# A whole number the variants may change: not part of a longer number, a decimal, a subscript or a command.
_NUMBER = re.compile(r"(?<![\w.\\^_{-])(\d+)(?![\d.]\d|\d)")
_SIGNED = re.compile(r"-?\d+(?:\.\d+)?")
_BEGIN = re.compile(r"\\begin\{([a-zA-Z*]+)\}")


def seeded(*parts: object) -> random.Random:
    """A random generator fixed by `parts` (problem, step, seed, sample): the same call always decides the same."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def one_line(text: str) -> str:
    return " ".join(text.split())


def _unbox(text: str, blank: bool = False) -> str:
    """`\\boxed{x}` -> `x` (or `#` with `blank`), keeping balanced braces."""
    while (match := _BOXED.search(text)) is not None:
        depth, end = 0, None
        for position in range(match.end() - 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            if depth == 0:
                end = position
                break
        if end is None:
            return text[: match.start()] + text[match.end():]
        text = text[: match.start()] + ("#" if blank else text[match.end(): end]) + text[end + 1:]
    return text


def _sentences(text: str) -> list[str]:
    """Split prose at sentence ends outside math; a period just inside a closing `$` or `\\]` ends a sentence too."""
    pieces, start, math, position = [], 0, None, 0
    while position < len(text):
        two = text[position: position + 2]
        char = text[position]
        closing = None
        if math is None:
            environment = _BEGIN.match(text, position)
            if environment is not None:  # \begin{align*} ... \end{align*} is math too
                math, position = f"\\end{{{environment.group(1)}}}", environment.end()
                continue
            if two in ("$$", "\\[", "\\("):
                math, position = {"$$": "$$", "\\[": "\\]", "\\(": "\\)"}[two], position + 2
                continue
            if char == "$":
                math, position = "$", position + 1
                continue
            if char in ".!?" and (position + 1 == len(text) or text[position + 1] == " "):
                closing = position + 1
        elif text.startswith(math, position):
            ends_sentence = text[position - 1: position] == "."
            display = math != "$"
            position += len(math)
            math = None
            if ends_sentence and (position == len(text) or text[position] == " "):
                closing = position
            elif display and text[position: position + 1].isupper():  # "\]Hence, ...": display math ends a sentence
                closing = position
            else:
                continue
        if closing is not None:
            pieces.append(text[start:closing].strip())
            start = position = closing
            continue
        position += 1
    pieces.append(text[start:].strip())
    return [piece for piece in pieces if piece]


def _group(sentences: list[str]) -> list[str]:
    """Pack sentences into about MAX_STEPS steps of similar length; a step outgrows MAX_STEP_CHARS only when one
    sentence does (a policy's step cap must fit a step: the debate's default 256 tokens is about 1,000 characters)."""
    total = sum(len(sentence) + 1 for sentence in sentences)
    target = min(MAX_STEP_CHARS, max(_MIN_STEP_CHARS, total // MAX_STEPS))
    steps: list[str] = []
    for sentence in sentences:
        if steps and (len(steps[-1]) < _MIN_STEP_CHARS or len(steps[-1]) + len(sentence) < target):
            steps[-1] += " " + sentence
        else:
            steps.append(sentence)
    if len(steps) > 1 and len(steps[-1]) < _MIN_STEP_CHARS:
        steps[-2:] = [steps[-2] + " " + steps[-1]]
    return steps


def final_sentence(answer: str) -> str:
    return f"So the final answer is $\\boxed{{{answer}}}$."


@dataclass(frozen=True)
class Reference:
    """The reference solution of one problem: step bodies; the last step also states the final answer."""

    problem: Problem
    bodies: tuple[str, ...]
    answer: str

    def __len__(self) -> int:
        return len(self.bodies)

    def step(self, index: int) -> str:
        """Step `index` (1-based) as the policy writes it."""
        body = self.bodies[index - 1]
        return f"{body} {final_sentence(self.answer)}" if index == len(self.bodies) else body

    def steps(self) -> list[str]:
        return [self.step(index) for index in range(1, len(self) + 1)]

    def numbers(self) -> set[str]:
        return {number for body in self.bodies for number in _NUMBER.findall(body)} | set(_NUMBER.findall(self.answer))


def _solution_text(problem: Problem) -> str | None:
    solution = problem.meta.get("solution")
    return solution if isinstance(solution, str) and solution.strip() else None


@lru_cache(maxsize=4096)
def _split(solution: str, gsm8k_style: bool) -> tuple[str, ...]:
    solution = _CALCULATOR.sub("", _ASY.sub(" ", solution))
    if gsm8k_style:
        sentences = [line.strip() for line in solution.splitlines() if line.strip() and not line.startswith("####")]
    else:
        sentences = _sentences(one_line(solution))
    bodies = []
    for sentence in _group(sentences):
        body = one_line(_ANSWER_WORD.sub(lambda m: "final result" if m.group(1) else "result", _unbox(sentence)))
        if body:
            bodies.append(body)
    return tuple(bodies)


def reference_for(problem: Problem) -> Reference | None:
    """The problem's reference steps, or None when it has no reference solution or no gold answer."""
    solution = _solution_text(problem)
    if solution is None or problem.answer is None:
        return None
    bodies = _split(solution, gsm8k_style="####" in solution or "<<" in solution or problem.source.startswith("gsm8k"))
    if not bodies:
        bodies = ("I work it out from the problem statement.",)
    return Reference(problem, bodies, one_line(problem.answer))


# -- wrong variants ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Slip:
    """How a wrong variant differs from its reference step: `old` became `new` (a number, or a sign)."""

    kind: str  # "number", "sign" or "answer"
    old: str
    new: str

    def reason(self) -> str:
        """Why the step is wrong, as the solver would think it (never the gold answer itself)."""
        if self.kind == "sign":
            return f"I got the sign wrong: it should be {self.old}, not {self.new}."
        if self.kind == "answer":
            return f"I made a slip in the last computation: {self.new} is not what the previous steps give."
        if not self.old or not self.new:
            return "This step does not follow from the ones before it."
        return f"I wrote {self.new} where it should be {self.old}."


def _fresh_number(old: str, taken: set[str], rng: random.Random) -> str:
    value = int(old)
    for _ in range(50):
        candidate = str(value + rng.choice((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -1, -2)))
        if candidate not in taken and not candidate.startswith("-"):
            return candidate
    return str(value * 10 + 7)


def _replace_at(text: str, match: re.Match, new: str) -> str:
    return text[: match.start()] + new + text[match.end():]


def wrong_answer(answer: str) -> str:
    """A final answer that is plainly not `answer`: its first number changed, else 0 (or 1 when it is 0)."""
    match = _NUMBER.search(answer)
    if match is not None:
        return _replace_at(answer, match, str(int(match.group(1)) + 1))
    return "1" if answer.strip() == "0" else "0"


def wrong_variant(reference: Reference, index: int, rng: random.Random) -> tuple[str, Slip] | None:
    """A plausible wrong version of step `index`: a changed number (absent from the whole solution, so a rewrite
    that drops it is caught), a sign flip, or for the last step a wrong final answer. None if nothing can change."""
    if index == len(reference):
        wrong = wrong_answer(reference.answer)
        return f"{reference.bodies[index - 1]} {final_sentence(wrong)}", Slip("answer", reference.answer, wrong)
    body = reference.bodies[index - 1]
    numbers = list(_NUMBER.finditer(body))
    if not numbers:
        return None
    match = numbers[-1]  # usually the step's result, which later steps reuse
    if rng.random() < 1 / 3 and int(match.group(1)) != 0 and f"-{match.group(1)}" not in reference.numbers():
        new = f"-{match.group(1)}"
        return _replace_at(body, match, new), Slip("sign", match.group(1), new)
    new = _fresh_number(match.group(1), reference.numbers(), rng)
    return _replace_at(body, match, new), Slip("number", match.group(1), new)


def propagate(text: str, slip: Slip) -> str:
    """A later step on a wrong line: the changed number carries on wherever the step uses it."""
    if slip.kind != "number":
        return text
    return re.sub(rf"(?<![\w.\\^_{{-]){re.escape(slip.old)}(?![\d.]\d|\d)", slip.new, text)


# -- comparing a step with the reference -------------------------------------------------------------------------
def same(a: str, b: str) -> bool:
    return one_line(a) == one_line(b)


def slip_between(reference_text: str, text: str) -> Slip:
    """What differs between a reference step and another version of it, for a critic's reason."""
    answer_old, answer_new = last_boxed(reference_text), last_boxed(text)
    if answer_new is not None and answer_old is not None and one_line(answer_old) != one_line(answer_new) \
            and template(reference_text.split("\\boxed")[0]) == template(text.split("\\boxed")[0]) \
            and _SIGNED.findall(reference_text.split("\\boxed")[0]) == _SIGNED.findall(text.split("\\boxed")[0]):
        return Slip("answer", answer_old, answer_new)
    ours, theirs = _SIGNED.findall(reference_text), _SIGNED.findall(text)
    for old, new in zip(ours, theirs, strict=False):
        if old != new:
            if old.lstrip("-") == new.lstrip("-"):
                return Slip("sign", old, new)
            return Slip("number", old, new)
    if answer_new is not None and answer_old != answer_new:
        return Slip("answer", answer_old or "", answer_new)
    return Slip("number", "", "")


def first_wrong(reference: Reference, steps: list[str]) -> int | None:
    """The 1-based index of the first step that is not the reference step at its place (None: all correct).
    A step past the end of the reference is wrong: the solution should have ended."""
    for index, text in enumerate(steps, start=1):
        if index > len(reference) or not same(text, reference.step(index)):
            return index
    return None


def template(text: str) -> str:
    """The step with its numbers and final answer blanked: a wrong variant has the template of its reference step."""
    return _SIGNED.sub("#", one_line(_unbox(text, blank=True)))
