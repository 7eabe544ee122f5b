"""Prompt templates as files, one folder per attempt, rendered with strict undefined variables.

A template's sha256 goes into each run's manifest, so a changed prompt is visible when comparing runs.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

PROMPTS_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # StrictUndefined: a missing variable is an error, never silently empty text in a prompt.
    return Environment(
        loader=FileSystemLoader(PROMPTS_DIR), undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False
    )


def render(name: str, **variables: object) -> str:
    """Render `prompts/<name>.j2`, e.g. render("debate/critic_system")."""
    return _environment().get_template(f"{name}.j2").render(**variables).strip()


def prompt_hashes(folder: str) -> dict[str, str]:
    """sha256 of every template in a folder, for the run manifest."""
    return {
        f"{folder}/{path.name}": hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((PROMPTS_DIR / folder).glob("*.j2"))
    }


def question_messages(question: str) -> list[dict[str, str]]:
    """The user turn that training rows, DPO sampling and accuracy evaluation all share."""
    return [{"role": "user", "content": render("training/question", question=question)}]
