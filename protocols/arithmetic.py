"""A verifiable domain: arithmetic chains in a rigid numbered-step format, with an exact step verifier.

    python -m protocols.problems arith_chain_test --limit 3

A problem starts from a number and applies 3-5 operations in order; its solution is one line per operation,
`Step i: a op b = c`, then `Answer: c`. Because every step is a single integer operation, a step can be checked
exactly by value: the verifier is a perfect process reward model for this domain, which is what makes a controlled
shortcut-vs-journey experiment possible on a small model (recipes/journey-effect). Only stdlib: the experiment
runs on bare GPU boxes that have torch and transformers and nothing else.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

# Difficulty levels: operand ranges grow, so a small model's arithmetic slips grow with them.
# (start range, add/subtract operand range, multiplier range, divisor range)
LEVELS: dict[int, tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    1: ((10, 50), (1, 9), (2, 5), (2, 5)),
    2: ((10, 99), (10, 99), (2, 9), (2, 9)),
    3: ((20, 300), (10, 300), (2, 12), (2, 12)),
    4: ((100, 999), (100, 999), (3, 19), (2, 19)),
}
OP_WORDS = {"+": "add {b}", "-": "subtract {b}", "*": "multiply by {b}", "/": "divide by {b}"}
STEP_RE = re.compile(r"^\s*Step\s+(\d+)\s*:\s*(-?\d+)\s*([+\-*/])\s*(-?\d+)\s*=\s*(-?\d+)\s*$")
ANSWER_RE = re.compile(r"^\s*Answer\s*:\s*(-?\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Chain:
    """One problem: a start value and the operations in order."""

    start: int
    ops: tuple[tuple[str, int], ...]
    level: int

    @property
    def key(self) -> str:
        """Identity of the problem's content: two problems with the same key are the same problem."""
        return f"{self.start}" + "".join(f"{op}{b}" for op, b in self.ops)

    def question(self) -> str:
        words = [OP_WORDS[op].format(b=b) for op, b in self.ops]
        listed = ", ".join(words[:-1]) + f", then {words[-1]}"
        return f"Start with {self.start}. {listed[0].upper()}{listed[1:]}. What is the result?"

    def values(self) -> list[int]:
        """The running value before the first and after each operation."""
        out = [self.start]
        for op, b in self.ops:
            out.append(apply(out[-1], op, b))
        return out

    def answer(self) -> int:
        return self.values()[-1]

    def steps(self) -> list[str]:
        values = self.values()
        return [step_line(i + 1, values[i], op, b, values[i + 1]) for i, (op, b) in enumerate(self.ops)]

    def solution(self) -> str:
        return "\n".join(self.steps() + [f"Answer: {self.answer()}"])


def apply(a: int, op: str, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0 or a % b:
        raise ValueError(f"{a} / {b} is not an integer")
    return a // b


def step_line(index: int, a: int, op: str, b: int, c: int) -> str:
    return f"Step {index}: {a} {op} {b} = {c}"


def make_chain(rng: random.Random, level: int, n_ops: int | None = None) -> Chain:
    """A random chain whose every intermediate value is a positive integer."""
    start_range, add_range, mul_range, div_range = LEVELS[level]
    n_ops = n_ops if n_ops is not None else rng.randint(3, 5)
    start = value = rng.randint(*start_range)
    ops: list[tuple[str, int]] = []
    while len(ops) < n_ops:
        op = rng.choice("+-*/")
        if op == "/":
            divisors = [d for d in range(div_range[0], div_range[1] + 1) if value % d == 0]
            if not divisors:
                continue
            b = rng.choice(divisors)
        elif op == "*":
            if value > 5000:  # keep numbers in a range a small model can write
                continue
            b = rng.randint(*mul_range)
        elif op == "-":
            if value <= add_range[0]:
                continue
            b = rng.randint(add_range[0], min(add_range[1], value - 1))
        else:
            b = rng.randint(*add_range)
        ops.append((op, b))
        value = apply(value, op, b)
    return Chain(start=start, ops=tuple(ops), level=level)


def split(name: str, level: int, count: int, seed: int, exclude: set[str] = frozenset()) -> list[tuple[str, Chain]]:
    """`count` distinct chains for one named split, none of whose keys is in `exclude` (the other splits)."""
    rng = random.Random(f"{name}/{level}/{seed}")
    out: list[tuple[str, Chain]] = []
    seen = set(exclude)
    while len(out) < count:
        chain = make_chain(rng, level)
        if chain.key in seen:
            continue
        seen.add(chain.key)
        out.append((f"arith/L{level}/{name}/{len(out)}", chain))
    return out


@dataclass(frozen=True)
class StepCheck:
    """The verifier's verdict on one step line: `correct` is exact, `value` is the result the line states, and
    `reason` says what is wrong in the solver's own words (it becomes the journey's check sentence)."""

    correct: bool
    value: int | None
    reason: str


def check_step(chain: Chain, index: int, line: str, previous: int) -> StepCheck:
    """Is `line` a correct step `index` (1-based) when the running value so far is `previous`?

    Correct means: the line has the rigid format, starts from `previous`, applies the problem's operation
    `index`, and states the right result. A line that computes its own wrong value is wrong at that step; a line
    that starts from a wrong `previous` is judged against that value (the caller passes the true one on the correct
    path), so the verifier labels exactly the first wrong step of a branch.
    """
    match = STEP_RE.match(line)
    if not match or index > len(chain.ops):
        return StepCheck(False, None, "not a step line" if not match else "more steps than operations")
    number, a, op, b, c = int(match[1]), int(match[2]), match[3], int(match[4]), int(match[5])
    expected_op, expected_b = chain.ops[index - 1]
    if number != index:
        return StepCheck(False, c, f"it is numbered {number}, but this is step {index}")
    if a != previous:
        return StepCheck(False, c, f"it should start from {previous}, not {a}")
    if (op, b) != (expected_op, expected_b):
        said, done = OP_WORDS[expected_op].format(b=expected_b), OP_WORDS[op].format(b=b)
        return StepCheck(False, c, f"the problem says {said} here, not {done}")
    try:
        right = apply(a, op, b)
    except ValueError:
        return StepCheck(False, c, f"{a} {op} {b} is not a whole number")
    if c != right:
        return StepCheck(False, c, f"{a} {op} {b} is {right}, not {c}")
    return StepCheck(True, c, "ok")


def final_answer(text: str) -> int | None:
    """The last `Answer: N` line of a solution, or None."""
    found = ANSWER_RE.findall(text)
    return int(found[-1]) if found else None


CHECK_RE = re.compile(r"^\s*Check step (\d+):.*?is (-?\d+), not (-?\d+)\.", re.MULTILINE)


def describe_answer(text: str, gold: int) -> dict:
    """What an answer did, for the journey-effect table: correct, backtracked, and whether the backtracking helped.

    `first_pass_correct`: the value of the last step before the first `Check step` line equals the gold answer
    (None when the answer never checks). `recovered`: the first pass was wrong and the final answer is right;
    `broke`: the first pass was right and the final answer is wrong. `spurious_checks`: checks that recompute a
    step to the very value it had ("is 210, not 210"), i.e. backtracking with nothing to fix.
    """
    answer = final_answer(text)
    check_at = text.find("Check step")
    first_pass = None
    if check_at >= 0:
        steps = [STEP_RE.match(line) for line in text[:check_at].split("\n")]
        values = [int(match[5]) for match in steps if match]
        first_pass = bool(values) and values[-1] == gold
    checks = CHECK_RE.findall(text)
    return {
        "answer": answer, "correct": answer == gold, "backtracked": check_at >= 0 or "Back to step" in text,
        "first_pass_correct": first_pass,
        "recovered": first_pass is False and answer == gold,
        "broke": first_pass is True and answer != gold,
        "checks": len(checks), "spurious_checks": sum(1 for _, right, wrong in checks if right == wrong),
    }
