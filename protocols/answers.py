"""Final-answer extraction and equivalence checking for untrusted model text.

Equivalence uses math-verify's LaTeX path only: its plain-expression path calls sympy's `parse_expr`,
which `eval`s text, and model text must never be evaluated. Checks run in a small pool of worker
processes (pebble) because math-verify's timeouts need `signal.alarm` on a main thread, and because a
check stuck inside C code (a huge integer power) can only be stopped by killing its process: a hang
or crash costs one worker, never the run.
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import re
import signal
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, TimeoutError as FutureTimeout

from pebble import ProcessPool

# Real final answers are short; anything longer or deeper is not worth a parser's time.
MAX_ANSWER_CHARS = 2_000
MAX_BRACE_DEPTH = 64
DEFAULT_TIMEOUT = 5.0
POOL_WORKERS = 2

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_GSM8K = re.compile(r"^\s*####\s*(.+?)\s*$", re.MULTILINE)
_FINAL = re.compile(r"final\s+answer\s*(?:is|:)\s*:?", re.IGNORECASE)
# "The answer is 5", "The correct answer is 5", "so my answer is: 5"
_ANSWER_IS = re.compile(r"\banswer\s+(?:is|=)\s*:?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=\S)\.\s")


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (or `\\fbox{...}`, or `\\boxed 5`) in `text`."""
    matches = list(_BOXED.finditer(text))
    for match in reversed(matches):
        start = match.end()
        if start < len(text) and text[start] == "{":
            content = _balanced(text, start)
            if content is not None:
                return content.strip()
        else:
            bare = re.match(r"([^\s$.,;]+)", text[start:])
            if bare:
                return bare.group(1)
    return None


def _balanced(text: str, open_at: int) -> str | None:
    depth = 0
    for position in range(open_at, len(text)):
        char = text[position]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : position]
    return None


def _after_last(anchor: re.Pattern, text: str) -> str | None:
    """The rest of the line after the last `anchor`, up to the end of its sentence."""
    matches = list(anchor.finditer(text))
    if not matches:
        return None
    tail = text[matches[-1].end() :].split("\n", 1)[0]
    return _SENTENCE_END.split(tail, maxsplit=1)[0]


def _clean_tail(answer: str) -> str:
    answer = answer.strip()
    # "The answer is $5$." -> "5": drop surrounding math delimiters and sentence punctuation.
    answer = answer.rstrip(".").strip()
    if len(answer) >= 2 and answer.startswith("$") and answer.endswith("$"):
        answer = answer.strip("$").strip()
    return answer


def extract_answer(text: str) -> str | None:
    """The final answer stated in `text`: last `\\boxed{}`, else `#### N`, else "Final answer: ...", else "... answer is ..."."""
    if not text:
        return None
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    gsm8k = _GSM8K.findall(text)
    if gsm8k:
        return gsm8k[-1].replace(",", "")
    for anchor in (_FINAL, _ANSWER_IS):
        tail = _after_last(anchor, text)
        if tail is not None and _clean_tail(tail):
            return _clean_tail(tail)
    return None


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


def _check_in_worker(gold: str, predicted: str, seconds: float) -> bool:
    """Runs in a pool process (its main thread), so one interval timer can bound the whole check."""
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        gold_parsed = parse(_as_latex(gold), config, parsing_timeout=None)
        predicted_parsed = parse(_as_latex(predicted), config, parsing_timeout=None)
        if not gold_parsed or not predicted_parsed:
            return False
        return bool(verify(gold_parsed, predicted_parsed, timeout_seconds=None))
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
    """Decide without a worker when possible: missing, hostile, or textually equal answers."""
    if not gold or not predicted:
        return False
    if _too_hostile(gold) or _too_hostile(predicted):
        return False
    if normalize(gold) == normalize(predicted):
        return True
    return None


def _submit(gold: str, predicted: str, timeout: float) -> Future:
    # The in-worker timer fires first and returns False cleanly; pebble's timeout kills a worker stuck in C.
    inner = max(0.05, timeout * 0.8)
    return _get_pool().schedule(_check_in_worker, args=(gold, predicted, inner), timeout=timeout)


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
    """Extract the final answer from a model's `text` and check it against `gold`."""
    predicted = extract_answer(text)
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
)
