"""A planted key for the secret-leak tests: a key that neither its variable's name (MYCRED) nor its shape (no sk-
prefix) gives away, every fragment of it that must not leave the process, and a stub error body that echoes it."""

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEY_ENV = "MYCRED"
KEY = "hunter2QZ7xv9PLmK42wRt8hunter2"
URL_KEY = "urlpassW0rd7Kq93Zx"
CUT = 300  # agents.calls.client._short's limit


def fragments(key: str, size: int = 6) -> list[str]:
    """Every piece of `key` long enough to matter: no part of a key may leave the process."""
    return [key[start:start + size] for start in range(len(key) - size + 1)]


def leaks(text: str, keys=(KEY, URL_KEY)) -> list[str]:
    return [piece for key in keys for piece in fragments(key) if piece in text]


def run_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), KEY_ENV: KEY, **extra}


def problems_file(tmp_path: Path, count: int = 1) -> Path:
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "problem": f"{i} + 1?", "answer": str(i + 1)}) + "\n"
                            for i in range(count)))
    return path


def error_at(offset: int) -> tuple[int, dict]:
    """A 400 whose message puts the key so that it starts `offset` characters into the error line."""
    return 400, {"error": {"message": "x" * offset + f" key={KEY} " + "y" * 80, "type": "invalid_request_error"}}
