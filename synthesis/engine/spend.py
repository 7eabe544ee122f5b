"""What a run directory has spent, over every process that worked in it: the ledger --budget-* count."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from protocols.types import Usage
from synthesis.engine.rows import read_rows


class SpendLedger:
    """`spend.jsonl`: what each process that worked in this run directory spent, so a budget holds across resumes.

    Each line is one process's running total (`{"process": ..., "usage": ...}`), appended and fsynced after each
    problem and at the end; the run's spend is the sum of every process's last line. A kill loses at most the
    calls since that process's last line. Records alone would miss failed and interrupted problems' spend.
    """

    def __init__(self, path: Path):
        self.path = path
        self.process = f"{os.getpid()}-{time.time_ns()}"
        self.earlier = self._earlier()
        self._written: Usage | None = None

    def _earlier(self) -> Usage | None:
        """Every earlier process's spend; None when no ledger exists yet (a run started before there was one)."""
        if not self.path.exists():
            return None
        last: dict[str, Usage] = {}
        for row in read_rows(self.path, dict, strict=False, missing_ok=True):
            try:
                last[str(row["process"])] = Usage.model_validate(row["usage"])
            except (KeyError, TypeError, ValueError):  # a torn or hand-edited line adds nothing
                continue
        return sum(last.values(), Usage())

    def write(self, spent: Usage) -> None:
        """This process's total so far (nothing when it has not changed since the last line)."""
        if spent == (self._written or Usage()):  # a process that spent nothing adds no line
            return
        line = json.dumps({"process": self.process, "usage": spent.model_dump(),
                           "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._written = spent
