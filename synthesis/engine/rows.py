"""The one reader of a run's rows (`records.jsonl`, `failures.jsonl`, sample sets, verdicts), and what is summed
over them.

Every line is one row; a line is complete once its newline is written. An unterminated last line is a row if it
parses (a file saved without a final newline) and otherwise a write in progress or one cut short by a kill: it is
left out, uncounted, and the next resume cuts it. A complete line that is not a row is an error naming file:line,
or, for readers that must keep going (the viewer, run totals), skipped and reported in `Rows.bad`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)

R = TypeVar("R")


class RowId(BaseModel):
    """Only a row's problem id: what resume needs, without validating the rest of the row."""

    model_config = ConfigDict(extra="ignore")
    problem_id: str


@dataclass(frozen=True)
class BadLine:
    """A complete line that is not a row, and why."""

    path: Path
    number: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.number}: {self.reason}"


class RowError(ValueError):
    """A complete line that is not a row of the expected type, read strictly."""

    def __init__(self, bad: BadLine, row_type: type):
        super().__init__(f"{bad.path}:{bad.number}: not a {row_type.__name__} ({bad.reason})")
        self.bad = bad


@dataclass
class Rows(Generic[R]):
    """What `read_rows` found; iterating gives the rows in file order."""

    path: Path
    rows: list[R] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    end: int = 0  # byte offset just after the last complete line: where an incremental reader goes on
    lines: int = 0  # complete lines read, blank ones included, so the next read numbers its lines on
    last_line: bytes = b""  # the last complete line read, newline included: tells growth from a rewrite in place
    torn: bool = False  # bytes after the last complete line were left out (a write in progress, or a kill mid-line)

    def __iter__(self) -> Iterator[R]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def run_dirs(paths: Iterable[str | Path], *, also: tuple[str, ...] = ()) -> list[Path]:
    """The one rule every command that reads runs follows: each argument is a run directory (it has records.jsonl),
    a folder of runs (an ablation: its subfolders with records.jsonl, in name order), or a records.jsonl file; files
    ending in one of `also` (e.g. ".txt" for eval.thoughts) pass through. Anything else is one line naming it."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file() and (path.name.endswith(".jsonl") or path.suffix in also):
            found.append(path)
        elif (path / "records.jsonl").is_file():
            found.append(path)
        elif path.is_dir() and (children := sorted(c for c in path.iterdir() if (c / "records.jsonl").is_file())):
            found += children
        else:
            what = "no such file or folder" if not path.exists() else (
                "a folder with no records.jsonl in it or in its subfolders" if path.is_dir() else "not a run")
            raise FileNotFoundError(f"{path}: {what} (expected a run directory, a folder of runs or records.jsonl)")
    return _once_each(found)


def _once_each(found: list[Path]) -> list[Path]:
    """Each run once: a run named twice (again, by its records.jsonl, or inside a folder of runs also given) would
    count its problems, tokens and answers twice in every report."""
    seen: dict[Path, Path] = {}
    for path in found:
        key = rows_file(path).resolve()
        if key in seen:
            log.warning("%s: the same run as %s, read once", path, seen[key])
        else:
            seen[key] = path
    return list(seen.values())


def rows_file(source: str | Path) -> Path:
    """A run directory's `records.jsonl`, or `source` itself when it is a file."""
    path = Path(source)
    return path if path.is_file() else path / "records.jsonl"


def read_rows(source: str | Path, row_type: type[R] = dict, *, strict: bool = True, missing_ok: bool = False,
              complete_only: bool = False, start: int = 0, first_line: int = 1) -> Rows[R]:
    """The rows of a run directory's records.jsonl (or of a .jsonl file), parsed as `row_type`: a pydantic model,
    or `dict` for plain JSON objects. `strict` raises RowError at the first complete line that is not a row, else
    such lines are skipped and listed in `bad`. `complete_only` leaves out an unterminated last line even when it
    parses (the writer cuts it before appending). `start` (a byte offset at a line start, numbered `first_line`)
    reads only what a file gained since an earlier read's `end`."""
    path = rows_file(source)
    if not path.is_file():
        if missing_ok:
            return Rows(path)
        raise FileNotFoundError(f"{path}: no records (expected a run directory with records.jsonl)")
    with path.open("rb") as handle:
        handle.seek(start)
        data = handle.read()
    result: Rows[R] = Rows(path)
    complete, newline, tail = data.rpartition(b"\n")
    for number, line in enumerate(complete.split(b"\n") if newline else [], start=first_line):
        if not line.strip():
            continue
        row = _parse(line, row_type)
        if isinstance(row, str):
            bad = BadLine(path, number, row)
            if strict:
                raise RowError(bad, row_type)
            result.bad.append(bad)
        else:
            result.rows.append(row)
    row = _parse(tail, row_type) if tail.strip() and not complete_only else ""
    if isinstance(row, str):
        result.torn = bool(tail)
    else:
        result.rows.append(row)
    consumed = complete + newline
    result.end = start + len(consumed)
    result.lines = complete.count(b"\n") + 1 if newline else 0
    result.last_line = consumed[consumed.rfind(b"\n", 0, -1) + 1:] if newline else b""
    return result


def _parse(line: bytes, row_type: type[R]) -> R | str:
    """The row on `line`, or a one-line reason why it is not one."""
    try:
        text = line.decode("utf-8")
        if row_type is dict:
            row = json.loads(text)
            if not isinstance(row, dict):
                return f"expected a JSON object, got {type(row).__name__}"
            return row
        return row_type.model_validate_json(text)
    except ValueError as error:  # UnicodeDecodeError, JSONDecodeError and pydantic's ValidationError
        details = getattr(error, "errors", None)
        if details is None:
            return str(error).splitlines()[0] if str(error) else type(error).__name__
        first = details()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]


def fallback_stats(metas: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """How many rows checked a rewrite (`meta` has `rewrite_faithful`) and how many fell back to the draft;
    None when no row did."""
    checked = [meta["rewrite_faithful"] for meta in metas if isinstance(meta, dict) and "rewrite_faithful" in meta]
    if not checked:
        return None
    fallbacks = sum(faithful is not True for faithful in checked)
    return {"checked": len(checked), "fallbacks": fallbacks, "fallback_rate": round(fallbacks / len(checked), 4)}


def read_fallback_stats(run_dir: str | Path) -> dict[str, Any] | None:
    """`fallback_stats` over every row of a run (lines that are not rows are skipped: totals never stop a run)."""
    return fallback_stats(row.get("meta") for row in read_rows(run_dir, dict, strict=False, missing_ok=True))


def format_fallbacks(stats: dict[str, Any] | None) -> str | None:
    """`m/n (r%)` for a report line, or None without rewrites."""
    if not stats:
        return None
    return f"{stats['fallbacks']}/{stats['checked']} ({stats['fallback_rate']:.1%})"
