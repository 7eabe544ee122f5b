"""Check that a model string works: one prompt through `LLMClient`, its texts and usage printed.

    python -m agents.llm --model embedded/smollm2-135m --prompt "What is 2+2?"

`python -m agents.llm` runs `main` here, so the client module holds no command line.
"""

from __future__ import annotations

import argparse
import asyncio

from agents import embedded
from agents.llm import LLMClient, LLMError
from agents.llm_config import DEFAULT_MODEL, LLMConfig
from agents.redact import neutralise, safe
from agents.router import RouterConfigError, load_router_config


def main(argv: list[str] | None = None) -> int:
    """Send one prompt to the model and print its replies and their usage; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m agents.llm", description="Check that a model string works.")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="litellm model string (default: %(default)s)")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--system", default=None, help="optional system message")
    parser.add_argument("--api-base", default=None)
    parser.add_argument("--api-key-env", default=None, help="environment variable that holds the API key")
    parser.add_argument("--router-config", default=None, help="litellm Router YAML whose model names --model may use")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.text import Text

    console = Console(soft_wrap=True)  # one-line errors stay one line, whatever the width
    try:
        router = load_router_config(args.router_config) if args.router_config else None
        client = LLMClient(LLMConfig(model=args.model, api_base=args.api_base, api_key_env=args.api_key_env,
                                     timeout=args.timeout, router=router))
    except (RouterConfigError, ValueError) as error:  # a bad router file, model string or setting: one line
        console.print(Text(f"error: {safe(error)}", style="red"))
        return 2
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": args.prompt}
    ]
    try:
        completion = asyncio.run(
            client.complete(
                messages, n=args.n, temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed
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
