"""The oracle's rewrite of a trial-and-error draft (attempt 1): every line kept, in order, restyled and linked.

What an honest, careful rewriter does and no more: LaTeX style with every piece of math inside its delimiters
(agents.backends.oracle.prose.restyle), a seeded connective before some steps (an opening one for the first step, a
"this time" one for a step redone after going back), and one final answer: a wrong line's own "So the final answer is"
becomes that line's answer, and only the last answer is called final. Numbers, reasons and `\\boxed{}` answers
all stay, so the faithfulness check (synthesis.rewrite) accepts it.
"""

from __future__ import annotations

import random
import re

from agents.backends.oracle.prose import CONTINUING, OPENING, REDOING, connect, not_final, restyle
from protocols.answers import last_boxed

_STEP_LINE = re.compile(r"^(\d+)\.\s+(.*)$")
_FINAL_CLAIM = re.compile(r"\bfinal answer\b")


def rewrite(lines: list[str], rng: random.Random) -> str:
    """The draft's non-empty `lines` as one long thought, one paragraph each."""
    claims = [position for position, line in enumerate(lines) if _FINAL_CLAIM.search(line)]
    written, last_step, used = [], 0, None
    for position, line in enumerate(lines):
        text = restyle(line)
        if claims and position != claims[-1]:
            text = not_final(text, rng)
        numbered = _STEP_LINE.match(text)
        if numbered:
            index = int(numbered.group(1))
            bank = OPENING if index == 1 and last_step == 0 else REDOING if index <= last_step else CONTINUING
            body, used = connect(numbered.group(2), bank, rng, avoid=used)
            text, last_step = f"{index}. {body}", index
        written.append(text)
    answer = last_boxed("\n".join(lines))
    if answer is not None and not claims and "\\boxed" not in written[-1]:  # the one final answer, stated once
        written.append(f"So the final answer is $\\boxed{{{answer}}}$.")
    return "\n\n".join(written)
