"""Finding one kind of exception inside another's chain of causes (libraries and tasks wrap errors in their own)."""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=BaseException)


def find_cause(error: BaseException, kind: type[E]) -> E | None:
    """The first exception of `kind` in `error`'s __cause__/__context__ chain (itself included), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
