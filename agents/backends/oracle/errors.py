"""The oracle's error model: mistakes of the kinds a real solver makes, carried on consistently, checked wrong by value.

    from agents.backends.oracle.errors import inject
    injection = inject(bodies, index=2, kind="arithmetic", rng=random.Random(0), question=q, answer="18")

Kinds (`KINDS`): an arithmetic slip (`16 - 3 - 4 = 12`); a wrong formula (adding where the formula multiplies,
doubling instead of squaring); a misread condition (a number of the problem read wrong: 61 for 16); a wrong
method (the inverse operation: dividing where it should multiply), chosen where its result is used again so it
is carried on for several steps; an unjustified leap (a result stated with no working, and wrong). The error
PROPAGATES: every later step is recomputed from the wrong value (agents.backends.oracle.arith evaluates the reference's
own arithmetic; a number equal to a changed value is replaced, and a computation that used it gets its new result),
down to a wrong final answer. An injection is returned only when it is wrong by value twice over: the changed
computation's value differs (a "wrong" step that is right, like `\\cos(-30^\\circ)` for `\\cos(30^\\circ)`, never
qualifies) and the propagated final answer is not the gold one (`protocols.answers.equivalent`, math-verify
inside); otherwise the caller resamples. Everything is seeded by the `rng` the caller passes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from agents.backends.oracle.arith import (
    Equation, NotArithmetic, Value, close, equations, evaluate, fmt, nice, sides, tokens,
)

KINDS = ("arithmetic", "formula", "misread", "method", "leap")
# The default mix of an `-eNN` oracle: slips most often, leaps least (a solver mostly miscomputes).
DEFAULT_MIX = {"arithmetic": 0.3, "formula": 0.2, "misread": 0.15, "method": 0.25, "leap": 0.1}

_OP_WORD = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "^": "square"}
_STYLE = {"+": "+", "-": "-", "−": "-", "*": "*", "×": "*", "·": "*", "\\cdot": "*", "\\times": "*",
          "/": "/", "÷": "/", "\\div": "/"}


@dataclass(frozen=True)
class Injection:
    """One wrong line: step `index` is the error, `steps` are that step and its consistent continuation to the end
    (the last states the wrong `answer`); `reason` says what was wrong and why, `check` the verification that
    exposes it, both in the solver's voice and free of the gold answer's verdict."""

    index: int
    kind: str
    steps: tuple[str, ...]
    answer: str
    reason: str
    check: str
    carried: int  # later steps whose text the wrong value changed (the error propagated through them)


class _Edits:
    """Span replacements on one text, applied right to left."""

    def __init__(self, text: str):
        self.text, self.spans = text, []

    def add(self, start: int, end: int, new: str) -> None:
        if all(end <= s or start >= e for s, e, _ in self.spans):
            self.spans.append((start, end, new))

    def touched(self, start: int, end: int) -> bool:
        return any(not (end <= s or start >= e) for s, e, _ in self.spans)

    def apply(self) -> str:
        text = self.text
        for start, end, new in sorted(self.spans, reverse=True):
            text = text[:start] + new + text[end:]
        return text


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return f"${text}$" if any(mark in text for mark in "\\^{}") else text


def _matches(value: Value, changes: list[tuple[Value, Value]]) -> Value | None:
    for old, new in changes:
        if close(value, old):
            return new
    return None


def _trivial(value: Value) -> bool:
    # 0, 1 and 2 occur everywhere as unrelated constants; replacing them would not be propagation but noise.
    return isinstance(value, Fraction) and value.denominator == 1 and 0 <= value <= 2


def _slip(value: Value, taken: set[str], rng: random.Random, like: str) -> str | None:
    """A plausible miscomputed result: off by a little, by ten, or two digits swapped; a number new to the
    solution where possible (a rewrite that drops the wrong step must not find it again elsewhere)."""
    if not nice(value) or value < 0:
        return None
    options = [value + delta for delta in (1, 2, 3, -1, -2, 10, -10)]
    digits = fmt(value).replace(".", "")
    if len(digits) >= 2 and digits[-1] != digits[-2] and "." not in fmt(value):
        options.append(Fraction(int(digits[:-2] + digits[-1] + digits[-2])))
    rng.shuffle(options)
    fresh = [option for option in options if option > 0 and not close(option, value) and fmt(option) not in taken]
    pool = fresh or [option for option in options if option > 0 and not close(option, value)]
    return fmt(pool[0], like) if pool else None


def _misread(number: str, rng: random.Random) -> str | None:
    digits = number.replace(",", "")
    if "." in digits:
        return None
    if len(digits) >= 2 and digits[0] != digits[1]:
        return fmt(Fraction(int(digits[1] + digits[0] + digits[2:])), number)
    return fmt(Fraction(int(digits)) + rng.choice((1, 2, 3)), number)


def _binary_ops(equation: Equation) -> list:
    items = [item for item in equation.lhs.items if item.kind not in ("skip", "deg")]
    found = []
    for position, item in enumerate(items):
        if position and item.kind in ("op", "caret") and items[position - 1].kind in ("num", "rp", "rb", "pi"):
            found.append(item)
    return found


def _op_text(symbol: str, like: str) -> str:
    latex = like.startswith("\\")
    if symbol == "*":
        return "\\cdot" if latex else "*"
    if symbol == "/":
        return "\\div" if latex else "/"
    return symbol


def _swap(item, kind: str, body: str) -> tuple[str, str, str] | None:
    """(new operator text, what it should be, what was done) for a formula or method error on `item`."""
    if item.kind == "caret":
        return (None, "^", "*") if kind == "formula" else None
    symbol = _STYLE.get(item.text)
    if symbol is None:
        return None
    table = {"formula": {"+": "*", "*": "+", "-": "/", "/": "-"}, "method": {"+": "-", "-": "+", "*": "/", "/": "*"}}
    wrong = table[kind][symbol]
    return _op_text(wrong, item.text if item.text.startswith("\\") else ("\\" if "\\" in body else "")), symbol, wrong


def _lhs_text(body: str, equation: Equation) -> str:
    return body[equation.lhs.start: equation.lhs.end]


def _change_site(body: str, equation: Equation, kind: str, rng: random.Random, question: str,
                 taken: set[str]) -> tuple[str, Value, Value, str, str] | None:
    """(new body, old value, new value, reason, check) of one error of `kind` at `equation` of `body`."""
    lhs_text, result = _lhs_text(body, equation), equation.result.number
    old = equation.value
    sign = -1 if old < 0 else 1
    if kind in ("arithmetic", "leap"):
        new_text = _slip(abs(old), taken, rng, result.text)
        if new_text is None:
            return None
        new = sign * evaluate(new_text)
        if close(new, equation.lhs.value):
            return None
        if kind == "arithmetic":
            edited = body[: result.start] + new_text + body[result.end:]
            reason = f"I made an arithmetic slip: {_quote(lhs_text)} is {fmt(old)}, not {fmt(new)}."
            check = f"Let me redo that arithmetic: {_quote(lhs_text + ' = ' + fmt(old))}."
        else:
            stated = fmt(new, result.text)
            kept = "".join(item.text for item in equation.result.items if item.kind == "skip" and item.text.strip())
            edited = body[: equation.lhs.start] + kept + stated + body[equation.result.end:]
            reason = (f"I jumped to {fmt(new)} without working it out, and it does not hold: "
                      f"{_quote(lhs_text)} is {fmt(old)}.")
            check = "Let me actually work out the value I took for granted."
        return edited, old, new, reason, check
    if not equation.first:
        return None
    if kind == "misread":
        numbers = {fmt(evaluate(item.text)) for item in tokens(question) if item.kind == "num"}
        candidates = [item for item in equation.lhs.items if item.kind == "num" and fmt(evaluate(item.text)) in numbers]
        if not candidates:
            return None
        item = rng.choice(candidates)
        misread = _misread(item.text, rng)
        if misread is None or misread in numbers:
            return None
        new_lhs = body[equation.lhs.start: item.start] + misread + body[item.end: equation.lhs.end]
        reason = f"I misread the problem: it says {item.text}, not {misread}."
        check = "Let me reread the problem statement and compare it with what I used."
    else:
        ops = _binary_ops(equation)
        if not ops:
            return None
        item = rng.choice(ops)
        swapped = _swap(item, kind, body)
        if swapped is None:
            return None
        new_op, right, wrong = swapped
        if item.kind == "caret":  # x^2 -> 2x: doubled instead of squared
            return None  # kept simple: a power is rarely a whole step's computation in our references
        new_lhs = body[equation.lhs.start: item.start] + new_op + body[item.end: equation.lhs.end]
        if kind == "formula":
            reason = (f"I used the wrong formula: this quantity needs me to {_OP_WORD[right]} "
                      f"({_quote(lhs_text)} = {fmt(old)}), not {_OP_WORD[wrong]}.")
            check = "Let me check the formula on a simple special case."
        else:
            reason = (f"My method was wrong: I chose to {_OP_WORD[wrong]} where the problem calls for me to "
                      f"{_OP_WORD[right]}, and I carried that on.")
            check = "Let me estimate whether these numbers are plausible at all."
    try:
        new = evaluate(new_lhs)
    except (NotArithmetic, ZeroDivisionError, OverflowError, ValueError):
        return None
    whole = isinstance(old, Fraction) and old.denominator == 1
    if not nice(new) or close(new, old) or (old > 0) != (new > 0) or (whole and not float(new).is_integer()):
        return None  # a solver's wrong count of eggs is still a whole number
    edited = body[: equation.lhs.start] + new_lhs + body[equation.lhs.end: result.start] + \
        fmt(abs(new), result.text) + body[result.end:]
    return edited, old, new, reason, check


def _fallback_site(body: str, kind: str, rng: random.Random, question: str,
                   taken: set[str]) -> tuple[str, Value, Value, str, str] | None:
    """A step with no computation to redo: change one number that stands in a side evaluable before and after, so
    the change is wrong by value (a sign under an even function, a number glued to a variable never qualifies)."""
    if kind not in ("arithmetic", "misread"):
        return None
    question_numbers = {item.text for item in tokens(question) if item.kind == "num"}
    chains = sides(body)
    candidates = [(side, item) for chain in chains for side in chain if side.value is not None
                  for item in side.items if item.kind == "num" and not _trivial(evaluate(item.text))
                  and (kind != "misread" or item.text in question_numbers)]
    if not candidates:
        return None
    side, item = candidates[-1]
    new_text = _misread(item.text, rng) if kind == "misread" else _slip(evaluate(item.text), taken, rng, item.text)
    if new_text is None:
        return None
    edited = body[: item.start] + new_text + body[item.end:]
    new_side = body[side.start: item.start] + new_text + body[item.end: side.end]
    try:
        if close(evaluate(new_side), side.value):
            return None
    except (NotArithmetic, ZeroDivisionError, OverflowError, ValueError):
        return None
    old, new = evaluate(item.text), evaluate(new_text)
    if kind == "misread":
        reason = f"I misread the problem: it says {item.text}, not {new_text}."
        check = "Let me reread the problem statement and compare it with what I used."
    else:
        reason = f"I copied a number wrong: I wrote {new_text} where the work before gives {item.text}."
        check = "Let me compare this step with the one before it."
    return edited, old, new, reason, check


def carry(body: str, changes: list[tuple[Value, Value]]) -> str:
    """A later step recomputed from the wrong values: operands equal to a changed value are replaced, each
    computation that used one gets its new result (added to `changes`), and bare mentions follow."""
    edits = _Edits(body)
    for equation in equations(body):
        lhs = equation.lhs
        pieces, cursor, changed = [], lhs.start, False
        for item in lhs.items:
            if item.kind != "num":
                continue
            new = _matches(evaluate(item.text), changes)
            if new is not None and not _trivial(evaluate(item.text)):
                pieces.append(body[cursor: item.start] + fmt(new, item.text))
                cursor, changed = item.end, True
        if not changed:
            continue
        new_lhs = "".join(pieces) + body[cursor: lhs.end]
        try:
            value = evaluate(new_lhs)
        except (NotArithmetic, ZeroDivisionError, OverflowError, ValueError):
            continue
        result = equation.result.number
        edits.add(lhs.start, lhs.end, new_lhs)
        if not close(value, equation.value) and nice(value):
            edits.add(result.start, result.end, fmt(abs(value), result.text))
            if _matches(equation.value, changes) is None:
                changes.append((equation.value, value))
    for item in tokens(body):
        if item.kind == "num" and not edits.touched(item.start, item.end) and not _trivial(evaluate(item.text)):
            new = _matches(evaluate(item.text), changes)
            if new is not None and nice(new):
                edits.add(item.start, item.end, fmt(abs(new), item.text))
    return edits.apply()


def _answers_differ(gold: str, answer: str) -> bool:
    try:
        return not close(evaluate(gold), evaluate(answer))
    except (NotArithmetic, ZeroDivisionError, OverflowError, ValueError):
        from protocols.answers import equivalent

        return not equivalent(gold, answer)


def final_sentence(answer: str) -> str:
    return f"So the final answer is $\\boxed{{{answer}}}$."


def inject(bodies: Sequence[str], index: int, kind: str, rng: random.Random, *, question: str = "",
           answer: str, final: bool = True) -> Injection | None:
    """An error of `kind` at step `index` (1-based) of a solution's step `bodies`, carried on to a wrong final
    answer; None when this step offers no such error that is wrong by value (the caller tries another)."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    body = bodies[index - 1]
    taken = {fmt(evaluate(item.text)) for text in bodies for item in tokens(text) if item.kind == "num"}
    found = equations(body)
    if kind == "method":  # a wrong method is one the later steps build on
        later = " ".join(bodies[index:])
        found = [eq for eq in found if fmt(eq.value) in {fmt(evaluate(i.text)) for i in tokens(later) if i.kind == "num"}]
    rng.shuffle(found)
    site = None
    for equation in found:
        site = _change_site(body, equation, kind, rng, question, taken)
        if site is not None:
            break
    if site is None:
        site = _fallback_site(body, kind, rng, question, taken)
    if site is None and index == len(bodies) and kind in ("arithmetic", "leap"):
        return _answer_slip(bodies, kind, rng, answer, taken, final)
    if site is None:
        return None
    edited, old, new, reason, check = site
    changes: list[tuple[Value, Value]] = [(old, new)]
    line = [edited]
    carried = 0
    for later in bodies[index:]:
        written = carry(later, changes)
        carried += written != later
        line.append(written)
    wrong = carry(answer, list(changes)) if tokens(answer) else answer
    if wrong == answer or not _answers_differ(answer, wrong):
        return None
    if final:
        line[-1] = f"{line[-1]} {final_sentence(wrong)}"
    return Injection(index, kind, tuple(line), wrong, reason, check, carried)


def _answer_slip(bodies: Sequence[str], kind: str, rng: random.Random, answer: str, taken: set[str],
                 final: bool) -> Injection | None:
    """The last step states a wrong result (one number of the answer miscomputed, e.g. `(4, \\frac{\\pi}{2})` for
    `(3, \\frac{\\pi}{2})`), wherever the step writes the answer: for a step with no arithmetic of its own to redo.
    Wrong by value through the answer checker."""
    numbers = [item for item in tokens(answer) if item.kind == "num"]
    if not numbers:
        return None
    item = rng.choice(numbers)
    new_text = _slip(evaluate(item.text), taken, rng, item.text)
    if new_text is None:
        return None
    wrong = answer[: item.start] + new_text + answer[item.end:]
    if not _answers_differ(answer, wrong):
        return None
    body = bodies[-1].replace(answer, wrong) if answer in bodies[-1] else bodies[-1]
    if final:
        body = f"{body} {final_sentence(wrong)}"
    if kind == "arithmetic":
        reason = f"I slipped when I wrote down the result: the steps before give {item.text} there, not {new_text}."
        check = "Let me redo the last computation from the previous step."
    else:
        reason = f"I stated {new_text} in the result without working it out, and the earlier steps do not give it."
        check = "Let me actually work out the value I took for granted."
    return Injection(len(bodies), kind, (body,), wrong, reason, check, 0)


def injections(bodies: Sequence[str], index: int, seed_parts: tuple, *, question: str, answer: str,
               variants: int = 3) -> list[Injection]:
    """Every injection this module offers at step `index`, deterministic in `seed_parts` (kinds x variants)."""
    from agents.backends.oracle.reference import seeded

    found, seen = [], set()
    for kind in KINDS:
        for variant in range(variants):
            injection = inject(bodies, index, kind, seeded(*seed_parts, index, kind, variant), question=question,
                               answer=answer)
            if injection is not None and injection.steps[0] not in seen:
                seen.add(injection.steps[0])
                found.append(injection)
    return found


def choose(candidates: list[Injection], mix: dict[str, float], rng: random.Random) -> Injection | None:
    """One candidate, its kind drawn by `mix` among the kinds on offer."""
    offered = {injection.kind for injection in candidates}
    weights = {kind: weight for kind, weight in mix.items() if kind in offered and weight > 0}
    if not weights:
        return None
    kind = rng.choices(list(weights), weights=list(weights.values()))[0]
    return rng.choice([injection for injection in candidates if injection.kind == kind])

