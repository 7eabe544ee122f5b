"""Reading a policy reply: one numbered reasoning step per turn, or the final answer in \\boxed{}.

The policy agent itself is an `agents.roles.prompted.PromptedAgent` built by the debate; every attempt that asks a model
for a step reads the reply here.
"""

from __future__ import annotations

import re

from protocols.answers import extract_answer

_NUMBERED = re.compile(r"^\s*(?:\*\*)?(?:step\s*)?(\d+)\s*[.):]\s*(?:\*\*)?\s*", re.IGNORECASE | re.MULTILINE)


def split_step(text: str) -> tuple[str, str | None]:
    """(the first step's text without its number, the final answer it states, if any).

    Models often write several steps at once; one turn keeps only the first, unless a later part holds
    the boxed answer and nothing else was numbered (a one-shot answer).
    """
    text = (text or "").strip()
    numbered = list(_NUMBERED.finditer(text))
    if numbered:
        start = numbered[0].end()
        end = numbered[1].start() if len(numbered) > 1 else len(text)
        step = text[start:end].strip()
    else:
        step = text.split("\n\n", 1)[0].strip()
    if not step:
        step = text
    # Boxed first, then "final answer: ..." / "the answer is ...": weak models often forget the box.
    return step, extract_answer(step)

