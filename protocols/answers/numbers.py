"""One plain number read by a strict regex into a `Fraction`: thousands separators, decimal commas, currency, units, %.

"1,000.99€", "2,74 $", "50 percent" and "15\\mbox{ cm}^2" are each one number. Read here instead of by sympy's
`parse_expr`, which `eval`s text: model text must never be evaluated.
"""

from __future__ import annotations

import re
from fractions import Fraction

from protocols.answers.limits import MAX_ANSWER_CHARS

_CURRENCY = "$€£¥₹₽₩"
_LATEX_NOISE = [
    (re.compile(r"\\(?:text|textbf|textrm|mbox|mathrm)\s*\{([^{}]*)\}"), r" \1 "),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°"), " degrees "),
    (re.compile(r"\s*\{\s*,\s*\}\s*"), ","),  # 14{,}916
    (re.compile(r"\\[!,;: ]|~"), ""),  # 12,\!000 and 10\,000
    (re.compile(r"\\([$%])"), r"\1"),
    (re.compile(r"−"), "-"),
]
_NUMBER_HEAD = re.compile(
    rf"(?P<sign>[-+]\s*)?(?:[{_CURRENCY}]\s*)?(?P<sign2>[-+]\s*)?"
    r"(?P<digits>\d[\d,. \u00a0\u202f]*\d|\d|\.\d+)"
    r"(?:\s*(?P<percent>%|percent\b|per\s?cent\b))?"
    rf"(?:\s*[{_CURRENCY}])?"
)
_GROUPED = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")  # 1,000.99
_SPACED = re.compile(r"[1-9]\d{0,2}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?")  # 1 000,5
_DOTTED = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+,\d+")  # 1.000,99
_DECIMAL = re.compile(r"\d+(?:\.\d+)?|\.\d+")
# A comma is a decimal comma only where a list reads worse: "2,74", "1000,99", "0,111" -- never "1,5" or "1,000".
_COMMA_DECIMAL = re.compile(r"\d+,\d\d|0,\d{2,}|\d{4,},\d+")
_UNIT_WORD = re.compile(r"(?P<base>[A-Za-z]+(?:/[A-Za-z]+)?)(?:\^\{?[23]\}?|[²³])?")
# Words after a number that change its value, or that are math rather than a unit.
_NOT_UNITS = frozenset(
    "pi e i sqrt root roots squared cubed factorial choose mod modulo over plus minus times divided and or "
    "hundred thousand million billion trillion dozen half halves third thirds quarter quarters fourth fourths "
    "fifth fifths sixth sixths eighth eighths tenth tenths hundredths thousandths".split()
)


def _decimal_text(digits: str, attached: bool) -> str | None:
    if _GROUPED.fullmatch(digits):
        return digits.replace(",", "")
    if _SPACED.fullmatch(digits):
        return re.sub(r"[ \u00a0\u202f]", "", digits).replace(",", ".")
    if _DOTTED.fullmatch(digits):
        return digits.replace(".", "").replace(",", ".")
    if _DECIMAL.fullmatch(digits):
        return digits
    if _COMMA_DECIMAL.fullmatch(digits) or (attached and re.fullmatch(r"\d+,(?!\d{3}$)\d+", digits)):
        return digits.replace(",", ".")
    return None


def _unit_tail(rest: str) -> bool:
    words = rest.strip().rstrip(".").split()
    if len(words) > 3:
        return False
    for word in words:
        unit = _UNIT_WORD.fullmatch(word)
        if unit is None or unit.group("base").lower() in _NOT_UNITS:
            return False
        if len(unit.group("base")) == 1 and unit.group("base") == word:  # "5 x" is not a unit; "5 m²" is
            return False
    return True


def plain_number(answer: str) -> tuple[Fraction, bool, str] | None:
    """(value, is_percent, decimal text) when `answer` is one plain number: sign, separators, currency, unit, %."""
    text = answer.strip()
    if len(text) > MAX_ANSWER_CHARS:
        return None
    for pattern, replacement in _LATEX_NOISE:
        text = pattern.sub(replacement, text)
    text = text.strip()
    head = _NUMBER_HEAD.match(text)
    if head is None:
        return None
    rest = text[head.end() :]
    attached = bool(head.group("percent")) or any(c in text for c in _CURRENCY) or bool(rest.strip(" ."))
    digits = _decimal_text(head.group("digits"), attached)
    if digits is None or not _unit_tail(rest):
        return None
    negative = "-" in (head.group("sign") or "") + (head.group("sign2") or "")
    value = -Fraction(digits) if negative else Fraction(digits)
    return value, bool(head.group("percent")), ("-" if negative else "") + digits


def numbers_agree(a: tuple[Fraction, bool, str], b: tuple[Fraction, bool, str]) -> bool:
    """Whether two plain numbers are one value, a percentage read either way."""
    # "50%" states 50 or 0.5 depending on the question; math-verify reads it both ways too.
    (x, x_percent, _), (y, y_percent, _) = a, b
    return x == y or (x_percent and x / 100 == y) or (y_percent and y / 100 == x)


def number_form(number: tuple[Fraction, bool, str]) -> str:
    """A plain number's clean decimal, as LaTeX."""
    return number[2] + ("\\%" if number[1] else "")
