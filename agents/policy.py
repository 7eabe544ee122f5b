"""The policy agent: writes one numbered reasoning step per turn, or the final answer in \\boxed{}."""

from __future__ import annotations

import re

from agents.prompted import PromptedAgent
from protocols.answers import extract_answer

_NUMBERED = re.compile(r"^\s*(?:\*\*)?(?:step\s*)?(\d+)\s*[.):]\s*(?:\*\*)?\s*", re.IGNORECASE | re.MULTILINE)


class PolicyAgent(PromptedAgent):
    def __init__(self, model_client, system_prompt: str, name: str = "policy"):
        super().__init__(name, "Reasons one numbered step at a time.", model_client, system_prompt)


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

