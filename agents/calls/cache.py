"""A disk cache of completions, one entry per sample, so a rerun replays instead of paying twice.

Hand-written over sqlite3 rather than litellm's cache because the key must include the sample index:
litellm keys a whole `n`-sample response, so asking for 3 samples after 2 would miss entirely.
Keys hold no credentials; values hold only model text and token counts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def cache_key(model: str, messages: list[dict[str, str]], sampling: dict[str, Any], seed: int | None, index: int) -> str:
    """A stable hash of everything that determines one sample."""
    payload = json.dumps(
        {"model": model, "messages": messages, "sampling": sampling, "seed": seed, "sample": index},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


log = logging.getLogger("longthought.cache")


@dataclass(frozen=True)
class CachedSample:
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int


class CompletionCache:
    """A sqlite file of samples; safe to share between threads and processes (WAL mode).

    Nothing is created on disk until the first sample is stored, so building a client (for a dry run, or a run that
    is refused) leaves no directory behind.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.path = self.directory / "completions.sqlite"
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None

    @property
    def _db(self) -> sqlite3.Connection:
        with self._lock:
            if self._connection is None:
                self._connection = self._connect()
            return self._connection

    def _connect(self) -> sqlite3.Connection:
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            return self._open()
        except sqlite3.DatabaseError as error:
            # Only a replay cache: a garbage file (a torn copy, a file that is not sqlite) is moved aside, not fatal.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            for suffix in ("", "-wal", "-shm"):
                stale = Path(f"{self.path}{suffix}")
                if stale.exists():
                    stale.replace(f"{aside}{suffix}")
            log.warning("replay cache %s is unreadable (%s): moved aside to %s, starting empty",
                        self.path, error, aside)
            return self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS samples (key TEXT PRIMARY KEY, text TEXT NOT NULL, finish_reason TEXT,"
                " prompt_tokens INTEGER, completion_tokens INTEGER, created REAL)"
            )
            db.execute("SELECT COUNT(*) FROM samples").fetchone()  # a damaged table shows here, not at the first get
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def get(self, key: str) -> CachedSample | None:
        with self._lock:
            if self._connection is None and not self.path.exists():
                return None  # nothing stored yet: do not create the file just to look
            row = self._db.execute(
                "SELECT text, finish_reason, prompt_tokens, completion_tokens FROM samples WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else CachedSample(*row)

    def put(self, key: str, text: str, finish_reason: str | None, usage: Any, samples_in_call: int) -> None:
        # A call with n samples reports usage for all of them: store each sample's share.
        share = max(1, samples_in_call)
        prompt = (getattr(usage, "prompt_tokens", 0) or 0) // share
        completion = (getattr(usage, "completion_tokens", 0) or 0) // share
        try:
            with self._lock:
                self._db.execute(
                    "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?, ?)",
                    (key, text, finish_reason, prompt, completion, time.time()),
                )
                self._db.commit()
        except (sqlite3.Error, OSError) as error:
            # The cache only saves money on reruns: a busy or unreachable file must not fail a call already paid for.
            log.warning("replay cache %s: sample not stored (%s)", self.path, error)

    def delete(self, keys: list[str]) -> None:
        """Drop these samples (those of a failed episode); a failure to do so is a warning, as for put."""
        try:
            with self._lock:
                self._db.executemany("DELETE FROM samples WHERE key = ?", [(key,) for key in set(keys)])
                self._db.commit()
        except (sqlite3.Error, OSError) as error:
            log.warning("replay cache %s: failed episode's samples not removed (%s)", self.path, error)

    def __len__(self) -> int:
        with self._lock:
            if self._connection is None and not self.path.exists():
                return 0
            return self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
