"""A safe numeric evaluator for the arithmetic in reference solutions: `16 - 3 - 4 = 9`, `$\\frac{3}{4}\\cdot 8 = 6$`.

The oracle's error model (agents.backends.oracle.errors) must know that an injected error is wrong *by value*, and must
recompute later steps from a wrong value. Sympy or math-verify would parse anything, including text that is not
ours to trust; this module reads only numbers, `+ - * / ^`, `\\cdot \\times \\div`, `\\frac`, `\\sqrt`, `\\pi`,
parentheses and braces, with bounded exponents, and nothing else (hand-written for that reason: a tiny recursive
descent parser over a token list, never `eval`). A text is cut into *runs* (maximal stretches of such tokens) and a
run into *sides* at `=`; a side is trusted only when it parses whole and is not glued to a function or a variable
(`\\cos(-30^\\circ)` is not the number -30, `2x` is not 2).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

Value = Fraction | float

_TOKEN = re.compile(
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,]\d)|\d+(?:\.\d+)?|\.\d+)"
    r"|(?P<deg>\^\s*\\circ|\^\s*\{\s*\\circ\s*\})"
    r"|(?P<op>\\cdot(?![a-zA-Z])|\\times(?![a-zA-Z])|\\div(?![a-zA-Z])|[+\-*/×÷−·])"
    r"|(?P<rel>=)"
    r"|(?P<lp>\\left\s*\(|\()|(?P<rp>\\right\s*\)|\))"
    r"|(?P<lb>\{)|(?P<rb>\})"
    r"|(?P<frac>\\[dt]?frac(?![a-zA-Z]))|(?P<sqrt>\\sqrt(?![a-zA-Z]))|(?P<pi>\\pi(?![a-zA-Z]))|(?P<caret>\^)"
    r"|(?P<skip>\s+|\\[,;!: ]|\$|\\\$)"
    r"|(?P<other>\\[a-zA-Z]+|[A-Za-z]+|.)",
    re.DOTALL,
)
_MAX_EXPONENT = 64
_MAX_MAGNITUDE = 1e30


class NotArithmetic(ValueError):
    """A side that is not plain arithmetic this module can evaluate."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


def tokens(text: str) -> list[Token]:
    return [Token(match.lastgroup, match.group(), match.start(), match.end()) for match in _TOKEN.finditer(text)]


def number_value(text: str) -> Fraction:
    return Fraction(text.replace(",", ""))


class _Parser:
    def __init__(self, items: list[Token]):
        self.items = [item for item in items if item.kind not in ("skip", "deg")]
        self.position = 0

    def peek(self) -> Token | None:
        return self.items[self.position] if self.position < len(self.items) else None

    def take(self, kind: str | None = None) -> Token:
        item = self.peek()
        if item is None or (kind is not None and item.kind != kind):
            raise NotArithmetic(f"expected {kind}")
        self.position += 1
        return item

    def parse(self) -> Value:
        if not self.items:
            raise NotArithmetic("empty")
        value = self.expression()
        if self.peek() is not None:
            raise NotArithmetic("trailing tokens")
        return value

    def expression(self) -> Value:
        value = self.term()
        while (item := self.peek()) is not None and item.kind == "op" and item.text in "+-−":
            self.take()
            right = self.term()
            value = value + right if item.text == "+" else value - right
        return _bounded(value)

    def term(self) -> Value:
        value = self.unary()
        while (item := self.peek()) is not None:
            if item.kind == "op" and item.text not in "+-−":
                self.take()
                right = self.unary()
                if item.text in ("/", "÷", "\\div"):
                    if right == 0:
                        raise NotArithmetic("division by zero")
                    value = value / right
                else:
                    value = value * right
            elif item.kind in ("num", "lp", "frac", "sqrt", "pi"):  # implicit product: 2\sqrt{3}, 3(4)
                value = value * self.unary()
            else:
                break
            value = _bounded(value)
        return value

    def unary(self) -> Value:
        item = self.peek()
        if item is not None and item.kind == "op" and item.text in "+-−":
            self.take()
            value = self.unary()
            return value if item.text == "+" else -value
        return self.power()

    def power(self) -> Value:
        base = self.atom()
        if (item := self.peek()) is not None and item.kind == "caret":
            self.take()
            exponent = self.group(single_digit=True)
            if abs(exponent) > _MAX_EXPONENT:
                raise NotArithmetic("exponent too large")
            if isinstance(base, Fraction) and isinstance(exponent, Fraction) and exponent.denominator == 1:
                if base == 0 and exponent < 0:
                    raise NotArithmetic("division by zero")
                return _bounded(base ** int(exponent))
            if float(base) < 0:
                raise NotArithmetic("root of a negative number")
            return _bounded(float(base) ** float(exponent))
        return base

    def group(self, single_digit: bool = False) -> Value:
        """`{...}`, or one digit as LaTeX reads `\\frac14` and `3^2`."""
        item = self.peek()
        if item is not None and item.kind == "lb":
            self.take()
            value = self.expression()
            self.take("rb")
            return value
        if item is not None and item.kind == "num" and single_digit:
            self.take()
            if len(item.text) == 1:
                return Fraction(item.text)
            # `\frac14` is 1/4: the second digit is the next group
            self.position -= 1
            self.items[self.position] = Token("num", item.text[1:], item.start + 1, item.end)
            return Fraction(item.text[0])
        return self.atom()

    def atom(self) -> Value:
        item = self.take()
        if item.kind == "num":
            return number_value(item.text)
        if item.kind == "pi":
            return math.pi
        if item.kind in ("lp", "lb"):
            value = self.expression()
            self.take("rp" if item.kind == "lp" else "rb")
            return value
        if item.kind == "frac":
            numerator = self.group(single_digit=True)
            denominator = self.group(single_digit=True)
            if denominator == 0:
                raise NotArithmetic("division by zero")
            return _bounded(numerator / denominator)
        if item.kind == "sqrt":
            value = self.group()
            if value < 0:
                raise NotArithmetic("root of a negative number")
            root = math.isqrt(int(value)) if isinstance(value, Fraction) and value.denominator == 1 else None
            return Fraction(root) if root is not None and root * root == value else math.sqrt(float(value))
        raise NotArithmetic(f"unexpected {item.text!r}")


def _bounded(value: Value) -> Value:
    if abs(float(value)) > _MAX_MAGNITUDE:
        raise NotArithmetic("too large")
    return value


def evaluate(text: str) -> Value:
    """The value of a plain arithmetic text; raises NotArithmetic for anything else."""
    items = tokens(text)
    if any(item.kind in ("other", "rel") for item in items):
        raise NotArithmetic("not arithmetic")
    return _Parser(items).parse()


def close(a: Value, b: Value) -> bool:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


@dataclass(frozen=True)
class Side:
    """One side of a relation chain: its span in the text, its tokens and its value (None: not trusted)."""

    start: int
    end: int
    items: tuple[Token, ...]
    value: Value | None

    @property
    def number(self) -> Token | None:
        """The side's only number, when the side is just a number (a stated result)."""
        useful = [item for item in self.items if item.kind not in ("skip", "deg")]
        signless = useful[1:] if len(useful) == 2 and useful[0].kind == "op" and useful[0].text in "-−" else useful
        return signless[0] if len(signless) == 1 and signless[0].kind == "num" else None

    @property
    def operators(self) -> list[Token]:
        return [item for item in self.items if item.kind == "op"]


def _glued(neighbour: Token | None, gap: bool) -> bool:
    """Whether a run's neighbouring token binds to it: a command (`\\cos`), a variable, or a letter touching it."""
    if neighbour is None:
        return False
    if neighbour.text.startswith("\\"):
        return neighbour.text not in ("\\quad", "\\qquad", "\\text", "\\implies", "\\Rightarrow", "\\]", "\\)")
    if neighbour.text.isalpha():  # "sells 16", "a day": prose; "2x", "x 3": a variable
        return not gap or (len(neighbour.text) == 1 and neighbour.text not in "aAI")
    return neighbour.text in ("_", "!", "'", "|", "%", "\\%")


def sides(text: str) -> list[list[Side]]:
    """Every run of arithmetic in `text`, cut into sides at `=`; sides glued to a function or variable are None."""
    items = tokens(text)
    chains: list[list[Side]] = []
    position = 0
    while position < len(items):
        if items[position].kind in ("other", "skip"):
            position += 1
            continue
        end = position
        while end < len(items) and items[end].kind != "other":
            end += 1
        run = items[position:end]
        while run and run[-1].kind == "skip":
            run = run[:-1]
        before = items[position - 1] if position else None
        after = items[end] if end < len(items) else None
        gap_before = position >= 1 and items[position].kind == "skip"
        # trailing punctuation like "= 3." ends a sentence, not a number
        gap_after = end - 1 >= 0 and items[end - 1].kind == "skip"
        pieces: list[list[Token]] = [[]]
        for item in run:
            if item.kind == "rel":
                pieces.append([])
            else:
                pieces[-1].append(item)
        chain = []
        for number, piece in enumerate(pieces):
            useful = [item for item in piece if item.kind != "skip"]
            if not useful:
                chain.append(Side(-1, -1, (), None))
                continue
            value: Value | None
            try:
                value = _Parser(list(piece)).parse()
            except (NotArithmetic, ZeroDivisionError, OverflowError, ValueError):
                value = None
            if number == 0 and _glued(before, gap_before):
                value = None
            if number == len(pieces) - 1 and _glued(after, gap_after):
                value = None
            chain.append(Side(useful[0].start, useful[-1].end, tuple(piece), value))
        chains.append(chain)
        position = end
    return chains


@dataclass(frozen=True)
class Equation:
    """A computation the text states: `lhs = result`, both trusted, equal in value, the result a plain number."""

    lhs: Side
    result: Side
    first: bool  # no trusted side before lhs: changing lhs leaves no earlier side disagreeing

    @property
    def value(self) -> Value:
        return self.result.value


def equations(text: str) -> list[Equation]:
    """The stated computations of `text` (the last two sides of a consistent chain whose lhs has an operator)."""
    found = []
    for chain in sides(text):
        trusted = [side for side in chain if side.value is not None]
        if len(chain) < 2 or len(trusted) < 2 or chain[-1].value is None or chain[-1].number is None:
            continue
        lhs = chain[-2]
        if lhs.value is None or not lhs.operators and not any(i.kind in ("frac", "sqrt", "caret") for i in lhs.items):
            continue
        if all(close(side.value, chain[-1].value) for side in trusted):
            found.append(Equation(lhs, chain[-1], first=trusted[0] is lhs))
    return found


def fmt(value: Value, like: str = "") -> str:
    """A value written as the reference writes numbers: `1,200` if `like` groups thousands, else plain."""
    if isinstance(value, Fraction) and value.denominator == 1:
        integer = int(value)
        return f"{integer:,}" if "," in like and abs(integer) >= 1000 else str(integer)
    number = float(value)
    if number.is_integer():
        return fmt(Fraction(int(number)), like)
    decimals = len(like.split(".")[1]) if "." in like else 2
    text = f"{number:.{max(decimals, 2)}f}".rstrip("0").rstrip(".")
    return text


def nice(value: Value) -> bool:
    """Whether a solver would write `value` as a plain number (an integer or a short decimal)."""
    if isinstance(value, float):
        return abs(value - round(value, 2)) < 1e-9
    return (value * 100).denominator == 1
