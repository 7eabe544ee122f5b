"""Text bound for a terminal or a log line shows its control characters instead of obeying them.

Problem sets, annotations and models are data from elsewhere: an ESC sequence in a problem id or a question can
clear a terminal, retitle its window or write the clipboard (OSC 52). It lives in the lowest package because problem
data is printed from here (`python -m protocols.problems`); `agents.calls.redact.safe` adds key masking on top.
"""

from __future__ import annotations

import re

# C0 controls but \t and \n, DEL and C1 controls (a lone \x9b is a CSI on some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def neutralise(text: str) -> str:
    """`text` with control characters (ESC, BEL, CR, ...) shown as visible escapes; newlines and tabs kept."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
