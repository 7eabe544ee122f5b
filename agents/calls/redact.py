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
# The user-info part of a URL (`https://user:KEY@host`): a key passed inside --api-base must not reach a file.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/\s@]+)@")

_known: set[str] = set()


def remember(secret: str | None) -> None:
    """Hide this value from now on (a key read from the environment by name, a router's resolved reference)."""
    if secret and len(secret) >= _MIN_SECRET_CHARS:
        _known.add(secret)


def remember_url(url: str | None) -> None:
    """Hide the credentials inside a URL's user-info from now on (its password, or a lone token as user)."""
    for match in _URL_USERINFO.finditer(url or ""):
        user, _, password = match.group(2).partition(":")
        remember(password or user)


def _secrets() -> list[str]:
    # Read at each call, not once: a key set after import (or per test) must still be hidden.
    found = set(_known)
    for name, value in os.environ.items():
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_CHARS:
            found.add(value)
    return sorted(found, key=len, reverse=True)  # longest first, so a key containing another is hidden whole


def hide_secrets(text: str) -> str:
    """`text` with every known secret value masked, and nothing else changed (for model text, which is data)."""
    for secret in _secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact(text: str) -> str:
    """`text` with every known secret value, URL credentials and anything shaped like an API key or bearer token
    masked."""
    text = _URL_USERINFO.sub(lambda match: f"{match.group(1)}{MASK}@", hide_secrets(text))
    return _KEY_SHAPES.sub(MASK, text)


def scrub(value: object) -> object:
    """`value` (a config or manifest: dicts, lists, strings) with every string redacted: what may go to disk."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(item) for item in value]
    return value


def cut(text: str, limit: int) -> str:
    """`text` redacted first and then cut at `limit` characters: a key across the cut never leaves half of itself."""
    text = " ".join(safe(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def safe(text: object) -> str:
    """Redacted and neutralised: what may reach a terminal, a log line or an error field on disk."""
    return neutralise(redact(str(text)))
