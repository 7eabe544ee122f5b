"""Whether two texts state the same final answer: decided at once when plain, else by a checker process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from concurrent.futures import Future

from protocols.answers import sandbox
from protocols.answers.compare import normalize
from protocols.answers.extract import stated_answer
from protocols.answers.limits import MAX_ANSWER_CHARS, MAX_TEXT_CHARS, too_hostile

DEFAULT_TIMEOUT = 5.0


def _quick(gold: str | None, predicted: str | None) -> bool | None:
    """Decide without a worker when possible: missing, oversized, hostile, or textually equal answers."""
    if not gold or not predicted or not gold.strip() or not predicted.strip():
        return False
    if len(gold) > MAX_TEXT_CHARS or len(predicted) > MAX_TEXT_CHARS:
        return False
    if len(gold) > MAX_ANSWER_CHARS or len(predicted) > MAX_ANSWER_CHARS:
        return None  # a whole output: the worker cuts its answer out first
    if too_hostile(gold) or too_hostile(predicted):
        return False
    if normalize(gold) == normalize(predicted):
        return True
    return None


def equivalent(gold: str | None, predicted: str | None, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Whether `predicted` states the same final answer as `gold`; False on any doubt or after `timeout`."""
    quick = _quick(gold, predicted)
    if quick is not None:
        return quick
    return sandbox.result(sandbox.submit(gold, predicted, timeout))


def equivalent_many(
    pairs: Iterable[tuple[str | None, str | None]], timeout: float = DEFAULT_TIMEOUT
) -> list[bool]:
    """`equivalent` for many (gold, predicted) pairs, checked in parallel by the worker pool."""
    pending: list[bool | Future] = []
    for gold, predicted in pairs:
        quick = _quick(gold, predicted)
        pending.append(quick if quick is not None else sandbox.submit(gold, predicted, timeout))
    return [item if isinstance(item, bool) else sandbox.result(item) for item in pending]


async def aequivalent(gold: str | None, predicted: str | None, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """`equivalent` for async code: waits on the worker without blocking the event loop."""
    quick = _quick(gold, predicted)
    if quick is not None:
        return quick
    future = sandbox.submit(gold, predicted, timeout)
    try:
        return bool(await asyncio.wrap_future(future))
    except Exception:  # noqa: BLE001 - timeouts and worker crashes both mean "not equivalent"
        return False


def check_answer(gold: str | None, text: str, timeout: float = DEFAULT_TIMEOUT) -> tuple[str | None, bool]:
    """The answer a model's `text` states (`stated_answer`), and whether it matches `gold`."""
    predicted = stated_answer(text)
    return predicted, equivalent(gold, predicted, timeout=timeout)


def math_verify_many(pairs: Iterable[tuple[str | None, str | None]], timeout: float = DEFAULT_TIMEOUT) -> list[bool]:
    """The second verifier for many (gold, answer text) pairs: math-verify's own extraction and verify, in the worker
    pool under `timeout` (a missing gold or answer is not accepted)."""
    pending = [sandbox.submit(gold, text, timeout, second=True) if gold and text and gold.strip() and text.strip()
               else False for gold, text in pairs]
    return [item if isinstance(item, bool) else sandbox.result(item) for item in pending]
