"""Final-answer extraction and equivalence checking for untrusted model text.

Equivalence uses math-verify's LaTeX path only: its plain-expression path calls sympy's `parse_expr`,
which `eval`s text, and model text must never be evaluated. Plain numbers (thousands separators, decimal
commas, currency, units, percent) are read by a strict regex into a `Fraction` instead, and an answer stated
in prose ("Final Answer: The largest $n$ is 34.") is cut down to its math span or number by regex. Checks
run in a small pool of worker processes (pebble) because math-verify's timeouts need `signal.alarm` on a
main thread, and because a check stuck inside C code (a huge integer power) can only be stopped by killing
its process: a hang or crash costs one worker, never the run.
"""

from __future__ import annotations

import asyncio
import atexit
import bisect
import multiprocessing
import re
import signal
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, TimeoutError as FutureTimeout
from fractions import Fraction

from pebble import ProcessPool

# Real final answers are short; anything longer or deeper is not worth a parser's time. A whole model
# output may be longer: its stated answer is cut out first, and that must fit MAX_ANSWER_CHARS.
MAX_ANSWER_CHARS = 2_000
MAX_TEXT_CHARS = 200_000
MAX_BRACE_DEPTH = 64
DEFAULT_TIMEOUT = 5.0
POOL_WORKERS = 2

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_BARE_BOXED = re.compile(r"[^\s$.,;]+")
_BRACE = re.compile(r"[{}]")
# Patterns run on whole model outputs in the caller's process, so none may backtrack over a long run.
_GSM8K = re.compile(r"^[ \t]*####[ \t]*(\S.*)$", re.MULTILINE)
_FINAL = re.compile(r"final\s+answer\s*(?:is|:)\s*:?", re.IGNORECASE)
# "The answer is 5", "The correct answer is 5", "so my answer is: 5"
_ANSWER_IS = re.compile(r"\banswer\s+(?:is|=)\s*:?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=\S)\.\s")
_HAS_MATH = re.compile(r"[\d\\]")


# --- math spans: $..$, $$..$$, \(..\), \[..\] -------------------------------------------------------------

_MATH_DELIM = re.compile(r"\$\$|\\\[|\\\]|\\\(|\\\)|(?<!\\)\$")
_CLOSER = {"$$": "$$", "\\[": "\\]", "\\(": "\\)", "$": "$"}


def _scan_math(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """(spans as (start, end, content), broken spans as (start, end)) of `text`, in order, in one linear pass.

    Inline spans (`$..$`, `\\(..\\)`) stay on one line as in LaTeX. A `\\(` or a `$ ` whose partner is on a
    later line opened a malformed span ("Answer $ \\n 9 \\n $" states nothing); a `$5` whose partner is on
    a later line was a currency sign.
    """
    spans: list[tuple[int, int, str]] = []
    broken: list[tuple[int, int]] = []
    opener: re.Match | None = None
    line_end = -1
    for token in _MATH_DELIM.finditer(text):
        mark = token.group()
        if opener is not None:
            closes = mark == _CLOSER[opener.group()]
            if opener.group() in ("$", "\\(") and line_end != -1 and token.start() > line_end:
                if closes and (opener.group() == "\\(" or text[opener.end() : opener.end() + 1].isspace()):
                    broken.append((opener.start(), token.end()))
                    opener = None
                    continue
                opener = None
            elif closes:
                spans.append((opener.start(), token.end(), text[opener.end() : token.start()]))
                opener = None
                continue
            else:
                continue
        if mark in _CLOSER:
            opener = token
            line_end = text.find("\n", token.end())
    return spans, broken


def _math_spans(text: str) -> list[tuple[int, int, str]]:
    return _scan_math(text)[0]


# --- boxed answers --------------------------------------------------------------------------------------


def _boxed_all(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every `\\boxed{...}` / `\\boxed 5` in `text`; braces matched in one pass."""
    matches = list(_BOXED.finditer(text))
    if not matches:
        return []
    closing: dict[int, int] = {}
    stack: list[int] = []
    for brace in _BRACE.finditer(text, matches[0].end()):
        if brace.group() == "{":
            stack.append(brace.start())
        elif stack:
            closing[stack.pop()] = brace.start()
    found = []
    for match in matches:
        start = match.end()
        if start < len(text) and text[start] == "{":
            if start in closing:
                found.append((match.start(), closing[start] + 1, text[start + 1 : closing[start]].strip()))
        else:
            bare = _BARE_BOXED.match(text, start)
            if bare:
                found.append((match.start(), bare.end(), bare.group()))
    return found


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (or `\\fbox{...}`, or `\\boxed 5`) in `text`."""
    found = _boxed_all(text)
    return found[-1][2] if found else None


_GAP_WORD = re.compile(r"\\?[A-Za-z]+")


def _one_statement(gap: str) -> bool:
    """Whether boxes this `gap` apart state one answer ("\\boxed{2}, \\boxed{3}", "\\boxed{1} papers and
    \\boxed{2} bins"); "or" offers alternatives, and other words ("\\boxed{1} no, wait \\boxed{2}") replace one."""
    if len(gap) > 50 or _SENTENCE_END.search(gap):
        return False
    words = [word.lower() for word in _GAP_WORD.findall(gap) if not word.startswith("\\")]
    return "or" not in words and (not words or "and" in words)


def _boxed_run(boxes: list[tuple[int, int, str]], text: str) -> str:
    run = [boxes[-1][2]]
    for (_, end, content), (start, _, _) in zip(reversed(boxes[:-1]), reversed(boxes[1:])):
        if end > start or not _one_statement(text[end:start]):  # a box inside a box is one answer
            break
        run.insert(0, content)
    return ", ".join(run)


# --- plain numbers: "1,000.99€", "2,74 $", "50 percent", "15\mbox{ cm}^2" ---------------------------------

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


def _plain_number(answer: str) -> tuple[Fraction, bool, str] | None:
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


def _numbers_agree(a: tuple[Fraction, bool, str], b: tuple[Fraction, bool, str]) -> bool:
    # "50%" states 50 or 0.5 depending on the question; math-verify reads it both ways too.
    (x, x_percent, _), (y, y_percent, _) = a, b
    return x == y or (x_percent and x / 100 == y) or (y_percent and y / 100 == x)


# --- answers stated in prose ---------------------------------------------------------------------------

# A command with its argument: \text{ and }, \begin{pmatrix}, \mathbf{v} hold no prose.
_COMMAND = re.compile(r"\\[A-Za-z]+\*?(?:\s*\{[^{}]*\})?")
# A prose word: lower-case or capitalised ("AB" and "xy" are names in math), not a function or connective.
_PROSE_WORD = re.compile(r"\b(?:[A-Z]?[a-z]{3,}|[Ii][tfns]|[Tt]o|[Oo][fn]|[Ss]o|[Ww]e|[Bb][ey]|[Aa][st])\b")
_VERB = re.compile(r"\b(?:is|are|was|were|equals)\b", re.IGNORECASE)
# What follows the last "is" / "=" of "The largest $n$ is 34" states the answer.
_COPULA = re.compile(rf"{_VERB.pattern}|\s=\s", re.IGNORECASE)
_MATH_WORDS = frozenset("and sin cos tan cot sec csc log exp sqrt max min gcd lcm mod det lim inf".split())
_ANSWER_WORD = re.compile(r"\banswer\b", re.IGNORECASE)
_LABEL = re.compile(r"[A-Za-z]\s*:\s")  # "Soucis : 2,74 $" labels a number; "7:32" is a ratio
_DECORATION = " \t\n*`\""  # markdown bold and quotes around an answer; a trailing ' is a prime
_NUMBER_TOKEN = re.compile(
    r"(?<![\w.,\\])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.,]\d+)?(?:/\d+)?"
    r"(?:\s?(?:\\?%|percent\b))?"
)
_SPAN_JOIN = re.compile(r"\s*(?:[,;]\s*(?:(?:and|or)\b\s*)?|(?:and|or)\b\s*)")


def _whole_span(answer: str, spans: list[tuple[int, int, str]]) -> bool:
    return len(spans) == 1 and spans[0][0] == 0 and spans[0][1] == len(answer)


def _is_bare(answer: str) -> bool:
    """Whether `answer` is only an answer (`x = 3`, `\\text{Evelyn}`, `5 apples`), not a sentence stating one."""
    if not answer or "\\boxed" in answer or "\\fbox" in answer or "####" in answer or _ANSWER_WORD.search(answer):
        return False
    spans = _math_spans(answer)
    if _whole_span(answer, spans):
        return True
    if spans or "\n" in answer or _LABEL.search(answer):
        return False
    plain = _COMMAND.sub(" ", answer)
    if _VERB.search(plain):  # "x is 5" says what the answer is
        return False
    return sum(word.lower() not in _MATH_WORDS for word in _PROSE_WORD.findall(plain)) < 2


def _unwrap(answer: str) -> str:
    answer = answer.strip(_DECORATION).rstrip(".").strip(_DECORATION)
    spans = _math_spans(answer)
    if _whole_span(answer, spans):
        answer = spans[0][2].strip().rstrip(".,").strip()
    return answer


def _candidates(text: str) -> list[tuple[int, int, str]]:
    """(start, end, answer) of each run of math spans ("$12$ and $13$") and each number outside math, in order."""
    spans, broken = _scan_math(text)
    found: list[tuple[int, int, str]] = []
    for start, end, content in spans:
        content = content.strip().rstrip(".,;").strip()
        if not content:
            continue
        if found and _SPAN_JOIN.fullmatch(text, found[-1][1], start):
            found[-1] = (found[-1][0], end, f"{found[-1][2]}, {content}")
        else:
            found.append((start, end, content))
    math = sorted([(start, end) for start, end, _ in spans] + broken)
    starts = [start for start, _ in math]
    for number in _NUMBER_TOKEN.finditer(text):
        inside = bisect.bisect_right(starts, number.start()) - 1
        if inside >= 0 and math[inside][1] > number.start():
            continue
        found.append((number.start(), number.end(), number.group().replace("−", "-")))
    return sorted(found)


def _reduce(statement: str) -> str | None:
    """The answer in one statement after an anchor: "$28 \\%$", "The largest $n$ is 34", "3 hours ago"."""
    statement = statement.replace('\\"', '"').strip(_DECORATION).rstrip(".").strip(_DECORATION)
    if not statement:
        return None
    if _is_bare(statement):
        return _unwrap(statement) or None
    masked = _masked(statement)
    copulas = list(_COPULA.finditer(masked))
    rest = statement[copulas[-1].end() :] if copulas else statement
    if copulas and _is_bare(rest.strip(_DECORATION).rstrip(".")):
        return _unwrap(rest) or None
    found = _candidates(rest) or _candidates(statement)
    return found[0][2] if found else None


def _masked(text: str) -> str:
    # Blank out math spans so a search for prose ("is", "=") cannot land inside one.
    pieces, last = [], 0
    for start, end, _ in _math_spans(text):
        pieces += [text[last:start], " " * (end - start)]
        last = end
    return "".join(pieces) + text[last:]


def _after(text: str, position: int) -> str:
    """The rest of the line from `position`, up to the end of its sentence."""
    return _SENTENCE_END.split(text[position:].split("\n", 1)[0], maxsplit=1)[0]


def _stated(text: str, lenient: bool) -> str | None:
    if not text:
        return None
    if lenient and len(text) <= MAX_ANSWER_CHARS and _is_bare(text.strip()):
        return _unwrap(text) or None
    boxes = _boxed_all(text)
    finals = list(_FINAL.finditer(text))
    # "\boxed{255} ... Final Answer: The final answer is $10,455$": the later statement is the answer,
    # unless it holds no math ("... the final answer is correct").
    if finals and boxes and finals[-1].start() > boxes[-1][0]:
        stated = _reduce(_after(text, finals[-1].end()))
        if stated and _HAS_MATH.search(stated):
            return stated
    if boxes:
        return _boxed_run(boxes, text) if lenient else boxes[-1][2]
    gsm8k = _GSM8K.findall(text)
    if gsm8k:
        return gsm8k[-1].rstrip().replace(",", "")
    for anchor in (_FINAL, _ANSWER_IS):
        matches = list(anchor.finditer(text))
        if matches:
            stated = _reduce(_after(text, matches[-1].end()))
            if stated:
                return stated
    if lenient:
        found = _candidates(text)
        if found:
            return max(found, key=lambda candidate: candidate[1])[2]
    return None


def extract_answer(text: str) -> str | None:
    """The final answer `text` states: last `\\boxed{}`, else `#### N`, else "Final answer: ...", else "... answer is ..."."""
    return _stated(text, lenient=False)


def stated_answer(text: str) -> str | None:
    """The answer `text` states, leniently: itself if bare, else `extract_answer` (boxes of one statement
    joined), else its last math span or number.

    For whole model outputs (`check_answer`, `equivalent`); `extract_answer` stays strict because a reasoning
    step that mentions numbers states no answer.
    """
    return _stated(text, lenient=True)


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


def _too_hostile(answer: str) -> bool:
    if len(answer) > MAX_ANSWER_CHARS:
        return True
    depth = deepest = 0
    for char in answer:
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})]":
            depth -= 1
    return deepest > MAX_BRACE_DEPTH


def _as_latex(answer: str) -> str:
    # Wrapping in \boxed{} makes math-verify's LaTeX extractor read the whole answer as one expression.
    return answer if "\\boxed" in answer else f"\\boxed{{{answer}}}"


class _CheckTimeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _CheckTimeout


def _same_answer(gold: str, predicted: str) -> bool:
    """Runs in a worker: cut out the stated answers; plain numbers compare as fractions, the rest as LaTeX."""
    gold_answer, predicted_answer = _answer_of(gold), _answer_of(predicted)
    if not gold_answer.strip() or not predicted_answer.strip():
        return False
    if _too_hostile(gold_answer) or _too_hostile(predicted_answer):
        return False
    if normalize(gold_answer) == normalize(predicted_answer):
        return True
    gold_number, predicted_number = _plain_number(gold_answer), _plain_number(predicted_answer)
    if gold_number and predicted_number and _numbers_agree(gold_number, predicted_number):
        return True
    # A number's clean decimal is a second reading of the same answer: "1,000.5€" meets "\frac{2001}{2}".
    gold_forms = [gold_answer] + ([_number_form(gold_number)] if gold_number else [])
    predicted_forms = [predicted_answer] + ([_number_form(predicted_number)] if predicted_number else [])
    return _latex_same(gold_forms, predicted_forms)


def _number_form(number: tuple[Fraction, bool, str]) -> str:
    return number[2] + ("\\%" if number[1] else "")


def _latex_same(gold_forms: list[str], predicted_forms: list[str]) -> bool:
    """Whether any reading of gold matches any reading of the prediction, by math-verify's LaTeX path."""
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]

    def parsed(forms: list[str]) -> list:
        results = (parse(_as_latex(form), config, parsing_timeout=None) for form in dict.fromkeys(forms))
        return [result for result in results if result]

    gold_parsed, predicted_parsed = parsed(gold_forms), parsed(predicted_forms)
    return any(verify(g, p, timeout_seconds=None) for g in gold_parsed for p in predicted_parsed)


def _check_in_worker(gold: str, predicted: str, seconds: float, latex_only: bool = False) -> bool:
    """Runs in a pool process (its main thread), so one interval timer can bound the whole check."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return _latex_same([gold], [predicted]) if latex_only else _same_answer(gold, predicted)
    except _CheckTimeout:
        return False
    except Exception:  # noqa: BLE001 - any parser failure on model text means "not equivalent"
        return False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _init_worker() -> None:
    import logging

    # We disable math-verify's own alarms (ours covers the whole check); silence its warning about that.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    import math_verify  # noqa: F401 - pay the import once per worker, not per check


_pool: ProcessPool | None = None
_pool_lock = threading.Lock()


def _get_pool() -> ProcessPool:
    global _pool
    with _pool_lock:
        if _pool is None or not _pool.active:
            # spawn: forking a process that runs asyncio and HTTP client threads can deadlock the child.
            _pool = ProcessPool(
                max_workers=POOL_WORKERS,
                initializer=_init_worker,
                context=multiprocessing.get_context("spawn"),
            )
        return _pool


@atexit.register
def shutdown_pool() -> None:
    """Stop the checker processes (also runs at interpreter exit)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.stop()
            _pool.join(timeout=5)
            _pool = None


def _quick(gold: str | None, predicted: str | None) -> bool | None:
    """Decide without a worker when possible: missing, oversized, hostile, or textually equal answers."""
    if not gold or not predicted or not gold.strip() or not predicted.strip():
        return False
    if len(gold) > MAX_TEXT_CHARS or len(predicted) > MAX_TEXT_CHARS:
        return False
    if len(gold) > MAX_ANSWER_CHARS or len(predicted) > MAX_ANSWER_CHARS:
        return None  # a whole output: the worker cuts its answer out first
    if _too_hostile(gold) or _too_hostile(predicted):
        return False
    if normalize(gold) == normalize(predicted):
        return True
    return None

def _submit(gold: str, predicted: str, timeout: float, latex_only: bool = False) -> Future:
    # The in-worker timer fires first and returns False cleanly; pebble's timeout kills a worker stuck in C.
    inner = max(0.05, timeout * 0.8)
    return _get_pool().schedule(_check_in_worker, args=(gold, predicted, inner, latex_only), timeout=timeout)


def _result(future: Future) -> bool:
    try:
        return bool(future.result())
    except (FutureTimeout, TimeoutError):
        return False
    except Exception:  # noqa: BLE001 - a crashed worker means "not equivalent", never a crashed run
        return False


def equivalent(gold: str | None, predicted: str | None, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Whether `predicted` states the same final answer as `gold`; False on any doubt or after `timeout`."""
    quick = _quick(gold, predicted)
    if quick is not None:
        return quick
    return _result(_submit(gold, predicted, timeout))


def equivalent_many(
    pairs: Iterable[tuple[str | None, str | None]], timeout: float = DEFAULT_TIMEOUT
) -> list[bool]:
    """`equivalent` for many (gold, predicted) pairs, checked in parallel by the worker pool."""
    pending: list[bool | Future] = []
    for gold, predicted in pairs:
        quick = _quick(gold, predicted)
        pending.append(quick if quick is not None else _submit(gold, predicted, timeout))
    return [item if isinstance(item, bool) else _result(item) for item in pending]


async def aequivalent(gold: str | None, predicted: str | None, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """`equivalent` for async code: waits on the worker without blocking the event loop."""
    quick = _quick(gold, predicted)
    if quick is not None:
        return quick
    future = _submit(gold, predicted, timeout)
    try:
        return bool(await asyncio.wrap_future(future))
    except Exception:  # noqa: BLE001 - timeouts and worker crashes both mean "not equivalent"
        return False


def check_answer(gold: str | None, text: str, timeout: float = DEFAULT_TIMEOUT) -> tuple[str | None, bool]:
    """The answer a model's `text` states (`stated_answer`), and whether it matches `gold`."""
    predicted = stated_answer(text)
    return predicted, equivalent(gold, predicted, timeout=timeout)


__all__: Sequence[str] = (
    "aequivalent",
    "check_answer",
    "equivalent",
    "equivalent_many",
    "extract_answer",
    "last_boxed",
    "normalize",
    "shutdown_pool",
    "stated_answer",
)
