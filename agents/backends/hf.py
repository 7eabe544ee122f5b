"""`hf/<folder or Hub id>`: a transformers checkpoint, served in-process by the litellm provider in
agents.backends.hf_provider (one request at a time), or by the native llama.cpp server when LONGTHOUGHT_HF_SERVE=native
and the checkpoint is a llama-architecture folder (agents.backends.embedded). Folder rules:
agents.backends.local_models.
"""

from __future__ import annotations

from typing import Any

from agents.backends import embedded, local_models
from agents.backends.base import Backend
from agents.backends.local_models import HF_PREFIX


class HFBackend(Backend):
    prefix = HF_PREFIX
    name = "hf"
    local_weights = True

    def route(self, config: Any) -> dict[str, Any]:
        if embedded.serves_hf_natively(config.model):
            return embedded.route(config.model)
        from agents.backends import hf_provider  # transformers loads only for hf/ models

        hf_provider.register()
        return super().route(config)

    def in_process(self, model: str) -> bool:
        return True  # each process loads its own copy of the weights, natively served or not

    def concurrency(self, model: str, configured: int | None) -> int:
        if embedded.serves_hf_natively(model):
            return configured if configured is not None else embedded.slots(model)
        # In-process hf/ generates one request at a time (agents.backends.hf_provider); a call let through the gate
        # would wait for the others inside its own timeout, and 4 parallel requests timed out at 300 s (issue 25).
        # Queued here, at the gate, a call's timeout counts only its own generation.
        return 1

    def check_available(self, model: str) -> None:
        local_models.check_available(model)  # a mistyped checkpoint path is one line, not a Hub download attempt

    def checkpoint(self, model: str) -> str:
        return model.removeprefix(self.prefix)

    def local_folder(self, model: str) -> str:
        return local_models.resolve(model)


HF = HFBackend()
