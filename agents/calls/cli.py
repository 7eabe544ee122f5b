"""Check that a model string works: one prompt through `LLMClient`, its texts and usage printed.

    python -m agents.llm --model embedded/smollm2-135m --prompt "What is 2+2?"

`python -m agents.llm` runs `main` here, so the client module holds no command line.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from agents.backends import embedded
from agents.backends.litellm_router import RouterConfigError, load_router_config
from agents.calls.errors import LLMError
from agents.calls.model_role import client_for, model_role
from agents.calls.redact import neutralise, safe
from protocols.cli import command_parser, parse


@dataclass(frozen=True, kw_only=True)  # kw_only: a required --prompt after the role's defaulted fields
class CheckConfig(model_role("", "model")):
    """One prompt, the model that answers it and how."""

    prompt: str = field(metadata={"help": "the user message"})
    system: str | None = field(default=None, metadata={"help": "optional system message"})
    router_config: str | None = field(
        default=None, metadata={"help": "litellm Router YAML whose model names --model may use"})
    max_tokens: int = field(default=256, metadata={"help": "max tokens of each reply"})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature"})
    n: int = field(default=1, metadata={"help": "replies to sample"})
    seed: int | None = field(default=None, metadata={"help": "sampling seed, where the provider takes one"})


def main(argv: list[str] | None = None) -> int:
    """Send one prompt to the model and print its replies and their usage; the exit status."""
    from rich.console import Console
    from rich.text import Text

    console = Console(soft_wrap=True)  # one-line errors stay one line, whatever the width
    try:
        (config,) = parse(command_parser("agents.llm", (CheckConfig,), "Check that a model string works."), argv)
        router = load_router_config(config.router_config) if config.router_config else None
        client = client_for(config, "", {"router": router})
    except (RouterConfigError, ValueError) as error:  # a bad router file, model string or setting: one line
        console.print(Text(f"error: {safe(error)}", style="red"))
        return 2
    messages = ([{"role": "system", "content": config.system}] if config.system else []) + [
        {"role": "user", "content": config.prompt}
    ]
    try:
        completion = asyncio.run(
            client.complete(
                messages, n=config.n, temperature=config.temperature, max_tokens=config.max_tokens, seed=config.seed
            )
        )
    except (LLMError, ValueError, embedded.EmbeddedModelError) as error:
        console.print(Text(f"error: {safe(error)}", style="red"))
        return 1
    finally:
        embedded.stop_all()
    for index, text in enumerate(completion.texts):
        if len(completion.texts) > 1:
            console.rule(f"sample {index}")
        console.print(Text(neutralise(text)))  # model text may carry escape sequences for the terminal
    cost = "unknown" if completion.cost is None else f"${completion.cost:.6f}"
    console.print(
        Text(
            f"model={completion.model} prompt_tokens={completion.prompt_tokens} "
            f"completion_tokens={completion.completion_tokens} cost={cost} "
            f"latency={completion.latency_s:.2f}s retries={completion.retries}",
            style="dim",
        )
    )
    return 0
