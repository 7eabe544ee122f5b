"""The critic agent: answers every policy step with one action and a short reason."""

from __future__ import annotations

from agents.prompted import PromptedAgent


class CriticAgent(PromptedAgent):
    def __init__(self, model_client, system_prompt: str, name: str = "critic"):
        super().__init__(name, "Judges each step: continue, backtrack, reflect or terminate.", model_client, system_prompt)
