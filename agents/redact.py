"""Make error and model text safe to store, log or print: no secrets, no terminal control sequences.

Servers echo credentials back ("Incorrect API key provided: sk-..."), and model or server text can carry escape
sequences that clear a terminal, retitle its window or write the clipboard (OSC 52). Every place where such text
leaves the process as a log line, an error string or terminal output passes it through `safe` (or `redact` /
`neutralise` alone). Records keep the model's text untouched: they are data, and the viewer renders them safely.
"""

from __future__ import annotations

import os
import re

from protocols.terminal import neutralise  # noqa: F401 - callers import it from here too

# Environment variables litellm reads credentials from (OPENAI_API_KEY, HF_TOKEN, AWS_SECRET_ACCESS_KEY, ...).
_SECRET_NAME = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
# Values shorter than this are not hidden: "1" or "true" in a *_TOKEN variable would blank out ordinary text.
_MIN_SECRET_CHARS = 8
# Shapes of keys whatever their source: OpenAI / Anthropic style sk-..., and any bearer token.
_KEY_SHAPES = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}|(?<=Bearer )[A-Za-z0-9._~+/=\-]{8,}", re.IGNORECASE)
MASK = "[REDACTED]"

_known: set[str] = set()


def remember(secret: str | None) -> None:
    """Hide this value from now on (a key read from the environment by name, a router's resolved reference)."""
    if secret and len(secret) >= _MIN_SECRET_CHARS:
        _known.add(secret)


def _secrets() -> list[str]:
    # Read at each call, not once: a key set after import (or per test) must still be hidden.
    found = set(_known)
    for name, value in os.environ.items():
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_CHARS:
            found.add(value)
    return sorted(found, key=len, reverse=True)  # longest first, so a key containing another is hidden whole


def redact(text: str) -> str:
    """`text` with every known secret value and anything shaped like an API key or bearer token masked."""
    for secret in _secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    return _KEY_SHAPES.sub(MASK, text)


def safe(text: object) -> str:
    """Redacted and neutralised: what may reach a terminal, a log line or an error field on disk."""
    return neutralise(redact(str(text)))
