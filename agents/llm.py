"""One async client for every model call: litellm model strings, retries, timeouts, usage, cost, cache.

    python -m agents.llm --model embedded/smollm2-135m --prompt "What is 2+2?"

Any litellm model string works (`openai/gpt-4o-mini`, `hosted_vllm/NAME` with `--api-base`, ...);
`embedded/smollm2-135m` is served offline by `agents.embedded`. Transient errors (rate limit, timeout,
connection, 5xx) are retried here and only here: litellm's and the openai client's own retries are
switched off, since stacked retry layers multiply each other.
"""

from __future__ import annotations

import os

# Before litellm is imported: otherwise it downloads a price list at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import argparse
import asyncio
import copy
import hashlib
import sys
import time
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import litellm
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from agents import embedded
from agents.cache import CompletionCache, cache_key
from agents.redact import neutralise, remember, safe
from agents.router import RouterConfigError, RouterSpec, load_router_config, router_for
from protocols.types import Usage

litellm.telemetry = False
litellm.suppress_debug_info = True
litellm.drop_params = True  # a backend that lacks `seed` or `top_p` gets the call without it

DEFAULT_MODEL = embedded.DEFAULT_MODEL
# Calls in flight per hosted model unless told otherwise: well under common rate limits; local servers use their slots.
DEFAULT_CONCURRENCY = 8
Message = dict[str, str]


class LLMError(RuntimeError):
    """A model call failed for good (after retries, or with a non-transient error)."""


class LLMTimeoutError(TimeoutError):
    """A model call got no answer within its timeout."""


_TRANSIENT = (
    litellm.RateLimitError,
    litellm.Timeout,
    litellm.APIConnectionError,
    litellm.InternalServerError,
    litellm.ServiceUnavailableError,
    litellm.BadGatewayError,
    LLMTimeoutError,
)


def derive_seed(*parts: object) -> int:
    """A sampling seed from the run seed and what makes a call distinct (problem, turn, ...), stable across runs.

    One seed reused on every turn makes a seeded server or the replay cache answer a repeated prompt with the
    same text, so a policy told to revise a step would write the same step again until the turn limit.
    """
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def is_transient(error: BaseException) -> bool:
    """Errors worth retrying: rate limits, timeouts, connection failures and 5xx answers."""
    if isinstance(error, _TRANSIENT):
        return True
    status = getattr(error, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


@dataclass(frozen=True)
class LLMConfig:
    """How to reach one model and how patiently."""

    model: str = field(default=DEFAULT_MODEL, metadata={"help": "litellm model string, or embedded/smollm2-135m"})
    api_base: str | None = field(default=None, metadata={"help": "base URL of an OpenAI-compatible server"})
    api_key_env: str | None = field(
        default=None, metadata={"help": "name of the environment variable holding the API key (never the key)"}
    )
    timeout: float = field(default=300.0, metadata={"help": "seconds before one call is abandoned"})
    max_retries: int = field(default=4, metadata={"help": "retries of transient errors per call"})
    backoff_initial: float = field(default=1.0, metadata={"help": "first retry delay in seconds"})
    backoff_max: float = field(default=30.0, metadata={"help": "longest retry delay in seconds"})
    max_concurrency: int | None = field(default=None, metadata={
        "help": "calls in flight per model (default: the server's slots for embedded/ and gguf/ models, else 8)"})
    cache_dir: Path | None = field(default=None, metadata={"help": "directory of the replay cache; None disables it"})
    router: RouterSpec | None = field(default=None, metadata={"help": "model names served by a litellm Router"})
    # A step or verdict is a few hundred tokens; 16,000 characters (~4,000 tokens) leaves room for verbose models
    # while stopping a runaway reply (one 2 MB step became a 24 MB record, resent in every later prompt). Counted in
    # characters, not tokens, because a server's usage figures can be wrong. Callers with long outputs pass max_chars.
    max_reply_chars: int = field(default=16_000, metadata={"help": "characters kept of one reply; the rest is cut"})

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("model: expected a litellm model string, got an empty string")
        for name in ("timeout", "backoff_initial", "backoff_max"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: expected a positive number, got {getattr(self, name)}")
        if self.max_reply_chars < 1:
            raise ValueError(f"max_reply_chars: expected >= 1, got {self.max_reply_chars}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries: expected >= 0, got {self.max_retries}")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError(f"max_concurrency: expected >= 1, got {self.max_concurrency}")

    def concurrency(self) -> int:
        """Calls this model may have in flight: as set, else the local server's slots, else 8 (a polite default)."""
        if self.max_concurrency is not None:
            return self.max_concurrency
        return embedded.slots(self.model) if embedded.is_embedded(self.model) else DEFAULT_CONCURRENCY


@dataclass(frozen=True)
class Completion:
    """The result of one `complete` call: `n` texts and what they cost."""

    texts: list[str]
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    latency_s: float
    retries: int = 0
    cache_hits: int = 0
    cached_completion_tokens: int = 0
    finish_reasons: list[str | None] = field(default_factory=list)
    truncated: int = 0  # samples cut at the character cap (their finish reason is "length")

    @property
    def text(self) -> str:
        return self.texts[0]

    def usage(self) -> Usage:
        return Usage(
            calls=1,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cost=self.cost,
            retries=self.retries,
            cache_hits=self.cache_hits,
            cached_completion_tokens=self.cached_completion_tokens,
        )


class _ConcurrencyGate:
    """One semaphore per (model, event loop): asyncio primitives cannot cross loops.

    Clients of one model share its gate, sized to the largest limit any of them asked for: a critic given
    --max-concurrency critic=16 on the policy's server raises the shared limit rather than splitting it.
    """

    def __init__(self) -> None:
        self._gates: dict[str, weakref.WeakKeyDictionary] = defaultdict(weakref.WeakKeyDictionary)
        self._limits: dict[tuple[str, int], int] = {}

    def get(self, model: str, limit: int) -> asyncio.Semaphore:
        per_loop = self._gates[model]
        loop = asyncio.get_running_loop()
        if loop not in per_loop:
            per_loop[loop] = asyncio.Semaphore(limit)
            self._limits[(model, id(loop))] = limit
        gate = per_loop[loop]
        current = self._limits[(model, id(loop))]
        if limit > current:  # a semaphore cannot be resized, but extra releases raise its count for good
            for _ in range(limit - current):
                gate.release()
            self._limits[(model, id(loop))] = limit
        return gate

    def limit(self, model: str) -> int | None:
        """The gate's size in the running loop (None before the model's first call there)."""
        return self._limits.get((model, id(asyncio.get_running_loop())))


# Shared by all clients, so a policy and a critic on the same server respect one limit.
_GATES = _ConcurrencyGate()


def _check_messages(messages: Sequence[Message]) -> list[Message]:
    if not messages:
        raise ValueError("messages: expected at least one message")
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str) or message.get("role") not in {
            "system", "user", "assistant"
        }:
            raise ValueError(f"messages[{position}]: expected {{'role': system|user|assistant, 'content': str}}")
    return [{"role": message["role"], "content": message["content"]} for message in messages]


class LLMClient:
    """Async completions for one model, with usage totals kept per agent role."""

    def __init__(self, config: LLMConfig | None = None, **overrides: Any):
        config = config or LLMConfig()
        self.config = LLMConfig(**{**config.__dict__, **overrides}) if overrides else config
        self.usage: dict[str, Usage] = defaultdict(Usage)
        # The oracle is free, instant and deterministic: replaying it from disk would only cost time.
        replayable = self.config.cache_dir and not self.config.model.startswith("oracle/")
        self._cache = CompletionCache(self.config.cache_dir) if replayable else None
        self._parent: LLMClient | None = None
        self.truncated_replies = 0  # replies cut at max_reply_chars, counted like usage (here and in parents)
        self._cache_keys: list[str] = []  # cache entries this (scoped) client read or wrote; see discard_cached
        from agents.reply_guard import ReplyGuard  # here, not on top: agents.reply_guard imports LLMError from us

        # One guard per run-level client: scoped() copies share it, so early replies are judged across problems.
        self.reply_guard = ReplyGuard()

    def scoped(self) -> LLMClient:
        """A client for one problem: its own usage totals, also added to this client's; same cache, limits, guard."""
        child = copy.copy(self)  # shares config, cache and reply guard
        child.usage = defaultdict(Usage)
        child.truncated_replies = 0
        child._cache_keys = []
        child._parent = self
        return child

    @property
    def model(self) -> str:
        return self.config.model

    def discard_cached(self) -> None:
        """Forget every cached sample this client read or wrote: its episode failed, and a retry must ask again.

        One of these replies broke the episode, and a replayed reply would break the retry the same way. Which one
        cannot be told in general, so the whole problem's entries go (problems do not share prompts, so others keep
        theirs); the alternative, holding writes back until a problem finishes, would also lose them on a crash.
        """
        if self._cache is not None and self._cache_keys:
            self._cache.delete(self._cache_keys)
        self._cache_keys = []

    def total_usage(self) -> Usage:
        return sum(self.usage.values(), Usage())

    def routed(self) -> bool:
        """Whether calls go through the router (the model flag names one of its model names)."""
        return self.config.router is not None and self.config.model in self.config.router.model_names()

    def _route(self) -> dict[str, Any]:
        """litellm keyword arguments that say where the model lives; the key is read at call time only."""
        if self.routed():
            return {"model": self.config.model, "router": self.config.router}
        if embedded.is_embedded(self.config.model):
            # Starts the server on first use; this blocks the event loop once, for a second or two.
            model, api_base, api_key = embedded.litellm_route(self.config.model)
            return {"model": model, "api_base": api_base, "api_key": api_key}
        if self.config.model.startswith("hf/"):
            from agents import hf_backend  # transformers loads only for hf/ models

            hf_backend.register()
        if self.config.model.startswith("oracle/"):
            from agents import oracle  # the rehearsal backend: answers from reference solutions

            oracle.register()
        route: dict[str, Any] = {"model": self.config.model}
        if self.config.api_base:
            route["api_base"] = self.config.api_base
        if self.config.api_key_env:
            key = os.environ.get(self.config.api_key_env)
            if not key:
                raise LLMError(f"{self.config.model}: environment variable {self.config.api_key_env} is not set")
            remember(key)  # a server that echoes the key must not get it into an error line
            route["api_key"] = key
        return route

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        n: int = 1,
        temperature: float = 0.7,
        top_p: float = 1.0,
        max_tokens: int = 512,
        stop: list[str] | None = None,
        seed: int | None = None,
        role: str = "default",
        max_chars: int | None = None,
    ) -> Completion:
        """Sample `n` completions of `messages`; cached samples are replayed, the rest requested.

        Each text is cut at `max_chars` (default: the config's max_reply_chars) and then ends with finish "length".
        """
        if n < 1:
            raise ValueError(f"n: expected >= 1, got {n}")
        max_chars = max_chars or self.config.max_reply_chars
        messages = _check_messages(messages)
        sampling = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens, "stop": stop}
        started = time.perf_counter()
        keys = [cache_key(self.config.model, messages, sampling, seed, index) for index in range(n)]
        texts: list[str | None] = [None] * n
        finish: list[str | None] = [None] * n
        prompt_tokens = completion_tokens = retries = cache_hits = cached_completion_tokens = 0
        cost: float | None = 0.0
        if self._cache is not None:
            if self._parent is not None:  # only a problem's scoped client can fail an episode (and stays small)
                self._cache_keys.extend(keys)
            for index, key in enumerate(keys):
                hit = self._cache.get(key)
                if hit is not None:
                    texts[index], finish[index] = hit.text, hit.finish_reason
                    prompt_tokens += hit.prompt_tokens
                    completion_tokens += hit.completion_tokens
                    cache_hits += 1
                    cached_completion_tokens += hit.completion_tokens
        missing = [index for index, text in enumerate(texts) if text is None]
        route = self._route() if missing else {}
        while missing:
            # Ask for all missing samples at once; servers that ignore `n` get the rest one by one.
            call_seed = None if seed is None else seed + missing[0]
            response, attempts = await self._call_with_retries(route, messages, len(missing), sampling, call_seed)
            retries += attempts - 1
            choices = response.choices[: len(missing)]
            if not choices:
                raise LLMError(f"{self.config.model}: the server returned no choices")
            usage = getattr(response, "usage", None)
            prompt_tokens += getattr(usage, "prompt_tokens", 0) or 0
            completion_tokens += getattr(usage, "completion_tokens", 0) or 0
            cost = _add_cost(cost, _cost_of(response))
            for index, choice in zip(missing, choices, strict=False):
                texts[index] = choice.message.content or ""
                finish[index] = choice.finish_reason
                if len(texts[index]) > max_chars:  # cut before caching, so a replay is cut the same way
                    texts[index], finish[index] = texts[index][:max_chars], "length"
                if self._cache is not None:
                    self._cache.put(keys[index], texts[index], finish[index], usage, len(choices))
            missing = missing[len(choices) :]
        truncated = 0
        for index, text in enumerate(texts):
            if text is not None and len(text) > max_chars:  # a sample cached before the cap, or under a larger one
                texts[index], finish[index] = text[:max_chars], "length"
            if finish[index] == "length" and text is not None and len(text) >= max_chars:
                truncated += 1
        completion = Completion(
            texts=[text or "" for text in texts],
            model=self.config.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
            latency_s=time.perf_counter() - started,
            retries=retries,
            cache_hits=cache_hits,
            cached_completion_tokens=cached_completion_tokens,
            finish_reasons=finish,
            truncated=truncated,
        )
        client: LLMClient | None = self
        while client is not None:
            client.usage[role] = client.usage[role] + completion.usage()
            client.truncated_replies += truncated
            client = client._parent
        return completion

    async def _call_with_retries(
        self, route: dict[str, Any], messages: list[Message], n: int, sampling: dict[str, Any], seed: int | None
    ) -> tuple[Any, int]:
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=wait_exponential_jitter(multiplier=self.config.backoff_initial, max=self.config.backoff_max),
            stop=stop_after_attempt(self.config.max_retries + 1),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._call_once(route, messages, n, sampling, seed)
        except Exception as error:
            attempts = retrying.statistics.get("attempt_number", 1)
            # Servers echo keys ("Incorrect API key provided: sk-...") and may send escape sequences: both go.
            raise LLMError(
                f"{self.config.model}: {type(error).__name__} after {attempts} attempt(s): {safe(_short(error))}"
            ) from error
        return response, retrying.statistics.get("attempt_number", 1)

    async def _call_once(
        self, route: dict[str, Any], messages: list[Message], n: int, sampling: dict[str, Any], seed: int | None
    ) -> Any:
        kwargs: dict[str, Any] = {**route, "messages": messages, **sampling}
        if n > 1:
            kwargs["n"] = n
        if seed is not None:
            kwargs["seed"] = seed
        if kwargs.get("stop") is None:
            kwargs.pop("stop", None)
        spec: RouterSpec | None = kwargs.pop("router", None)
        # Behind a router the limit holds per server: a fleet of N servers takes N times the calls.
        limit = self.config.concurrency() * (spec.deployments(self.config.model) if spec else 1)
        acompletion = router_for(spec).acompletion if spec else litellm.acompletion
        async with _GATES.get(self.config.model, limit):
            try:
                # The outer guard catches a server that accepts the connection and then never answers.
                return await asyncio.wait_for(
                    acompletion(**kwargs, timeout=self.config.timeout, num_retries=0, max_retries=0),
                    timeout=self.config.timeout + 5,
                )
            except TimeoutError as error:
                raise LLMTimeoutError(f"no answer within {self.config.timeout:g}s") from error


def _cost_of(response: Any) -> float | None:
    if str(getattr(response, "model", "")).startswith("oracle/"):
        return 0.0  # the rehearsal backend is free; litellm has no price for it
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # noqa: BLE001 - litellm raises for models it has no price for: cost unknown
        return None


def _add_cost(total: float | None, cost: float | None) -> float | None:
    return None if total is None or cost is None else total + cost


def _short(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + "..."


def main(argv: list[str] | None = None) -> int:
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

    console = Console()
    try:
        router = load_router_config(args.router_config) if args.router_config else None
    except RouterConfigError as error:
        console.print(Text(f"error: {safe(error)}", style="red"))
        return 2
    client = LLMClient(LLMConfig(model=args.model, api_base=args.api_base, api_key_env=args.api_key_env,
                                 timeout=args.timeout, router=router))
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


if __name__ == "__main__":
    sys.exit(main())
