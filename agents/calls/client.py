"""One async client for every model call: litellm model strings, retries, timeouts, usage, cost, cache.

    python -m agents.llm --model embedded/smollm2-135m --prompt "What is 2+2?"

Any litellm model string works (`openai/gpt-4o-mini`, `hosted_vllm/NAME` with `--api-base`, ...);
`embedded/smollm2-135m` is served offline by `agents.backends.embedded`. Transient errors (rate limit, timeout,
connection, 5xx) are retried here and only here: litellm's and the openai client's own retries are
switched off, since stacked retry layers multiply each other.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import math
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from agents.calls.litellm_setup import litellm  # first: it configures litellm before anything else imports it
from agents.backends import backend_for
from agents.backends.litellm_router import RouterSpec, router_for
from agents.calls.cache import CompletionCache, cache_key
from agents.calls.config import DEFAULT_MODEL, LLMConfig  # noqa: F401 - DEFAULT_MODEL: callers import it from here
from agents.calls.errors import BudgetExhausted, LLMAuthError, LLMError, LLMTimeoutError  # noqa: F401 - re-exported
from agents.calls.gate import GATES
from agents.calls.redact import cut, hide_secrets, remember, remember_url, safe
from agents.calls.reply_cap import capped_client, too_large
from agents.calls.reply_guard import ReplyGuard
from agents.calls.usage_check import checked_usage
from protocols.repetition import is_looping
from protocols.types import Usage

Message = dict[str, str]


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


# The openai client raises "api_key client option must be set" before any request; litellm reports that as a 500.
_CREDENTIALS = re.compile(r"api_key client option must be set|missing credentials|incorrect api key|invalid api key"
                          r"|invalid x-api-key|unauthori[sz]ed|authentication", re.IGNORECASE)
# The flag that names a role's key variable, where every command spells it the same way.
_KEY_FLAGS = {"policy": "--policy-api-key-env", "critic": "--critic-api-key-env", "scorer": "--scorer-api-key-env"}


def is_auth_failure(error: BaseException) -> bool:
    """A missing or refused key: retrying cannot help, whatever status the provider gave it."""
    if isinstance(error, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        return True
    status = getattr(error, "status_code", None)
    return status in (401, 403) or bool(_CREDENTIALS.search(str(error)[:2000]))


def auth_hint(model: str, role: str, key_env: str | None = None) -> str:
    """What to do about a key litellm could not use: which variable to set, or which flag names another."""
    flag = _KEY_FLAGS.get(role)
    if key_env:  # the key came from the variable the user named, not litellm's default for the provider
        return f"the key in {key_env} was refused: check it" + (f" (or pass {flag} NAME to use another variable)"
                                                                 if flag else "")
    try:
        missing = litellm.validate_environment(model).get("missing_keys") or []
    except Exception:  # noqa: BLE001 - an unknown provider has no known variable
        missing = []
    if missing:
        return f"set {' and '.join(missing)}" + (f", or pass {flag} NAME" if flag else "")
    return "the key was refused: check it" + (f" (or pass {flag} NAME to use another variable)" if flag else "")


def is_transient(error: BaseException) -> bool:
    """Errors worth retrying: rate limits, timeouts, connection failures and 5xx answers (not a missing key)."""
    if is_auth_failure(error) or too_large(error):  # a server that sent too much would send it again
        return False
    if isinstance(error, _TRANSIENT):
        return True
    status = getattr(error, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


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
        replayable = self.config.cache_dir and backend_for(self.config.model).replayable(self.config.model)
        self._cache = CompletionCache(self.config.cache_dir) if replayable else None
        self._parent: LLMClient | None = None
        self.truncated_replies = 0  # replies cut at max_reply_chars, counted like usage (here and in parents)
        self.looping_replies = 0  # replies that end in degenerate repetition (protocols.repetition), counted alike
        self._cache_keys: list[str] = []  # cache entries this (scoped) client read or wrote; see discard_cached

        # One guard per run-level client: scoped() copies share it, so early replies are judged across problems.
        self.reply_guard = ReplyGuard()
        # The run's budget, asked before each model call (scoped copies share it): a note once it is spent.
        self.spend_check: Callable[[], str | None] | None = None
        # Known from the start, not from the first call: a replayed reply or a preflight error may carry them.
        remember_url(self.config.api_base)
        if self.config.api_key_env:
            remember(os.environ.get(self.config.api_key_env))

    def scoped(self) -> LLMClient:
        """A client for one problem: its own usage totals, also added to this client's; same cache, limits, guard."""
        child = copy.copy(self)  # shares config, cache and reply guard
        child.usage = defaultdict(Usage)
        child.truncated_replies = 0
        child.looping_replies = 0
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
        return backend_for(self.config.model, self.config.router).route(self.config)

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
                    texts[index], finish[index] = hide_secrets(hit.text), hit.finish_reason
                    prompt_tokens += hit.prompt_tokens
                    completion_tokens += hit.completion_tokens
                    cache_hits += 1
                    cached_completion_tokens += hit.completion_tokens
        missing = [index for index, text in enumerate(texts) if text is None]
        route = self._route() if missing else {}
        while missing:
            # Ask for all missing samples at once; servers that ignore `n` get the rest one by one.
            call_seed = None if seed is None else seed + missing[0]
            note = self.spend_check() if self.spend_check is not None else None
            if note is not None:
                raise BudgetExhausted(note)
            response, attempts = await self._call_with_retries(route, messages, len(missing), sampling, call_seed,
                                                               role)
            retries += attempts - 1
            choices = response.choices[: len(missing)]
            if not choices:
                raise LLMError(f"{self.config.model}: the server returned no choices")
            usage = checked_usage(getattr(response, "usage", None), self.config.model)
            prompt_tokens += usage.prompt_tokens
            completion_tokens += usage.completion_tokens
            cost = _add_cost(cost, _cost_of(response))
            for index, choice in zip(missing, choices, strict=False):
                # A configured key in a reply (a server or model that repeats it) must not reach a record or the cache.
                texts[index] = hide_secrets(choice.message.content or "")
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
        looping = sum(is_looping(text) for text in completion.texts)
        client: LLMClient | None = self
        while client is not None:
            client.usage[role] = client.usage[role] + completion.usage()
            client.truncated_replies += truncated
            client.looping_replies += looping
            client = client._parent
        return completion

    async def _call_with_retries(
        self, route: dict[str, Any], messages: list[Message], n: int, sampling: dict[str, Any], seed: int | None,
        role: str = "default",
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
            if too_large(error):  # litellm reports it as a connection error; say what happened
                raise LLMError(f"{self.config.model}: {too_large(error)}") from error
            if is_auth_failure(error):
                raise LLMAuthError(f"{self.config.model}: authentication failed: {auth_hint(self.config.model, role, self.config.api_key_env)} "
                               f"({_short(error)})") from error
            # Servers echo keys ("Incorrect API key provided: sk-...") and may send escape sequences: both go.
            raise LLMError(
                f"{self.config.model}: {type(error).__name__} after {attempts} attempt(s): {_short(error)}"
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
        if spec is None and kwargs.get("api_base"):  # a server named by address: its reply is read with a cap
            try:
                provider = litellm.get_llm_provider(kwargs["model"], api_base=kwargs["api_base"])[1]
            except Exception:  # noqa: BLE001 - litellm raises for a prefix it does not know; the call will say so
                provider = ""
            client = capped_client(provider, kwargs["api_base"], kwargs.get("api_key"), self.config.timeout)
            if client is not None:
                kwargs["client"] = client
        # Behind a router the limit holds per server: a fleet of N servers takes N times the calls.
        limit = self.config.concurrency() * (spec.deployments(self.config.model) if spec else 1)
        acompletion = router_for(spec).acompletion if spec else litellm.acompletion
        async with GATES.get(self.config.model, limit):
            try:
                # The outer guard catches a server that accepts the connection and then never answers.
                return await asyncio.wait_for(
                    acompletion(**kwargs, timeout=self.config.timeout, num_retries=0, max_retries=0),
                    timeout=self.config.timeout + 5,
                )
            except TimeoutError as error:
                raise LLMTimeoutError(f"no answer within {self.config.timeout:g}s") from error


def _cost_of(response: Any) -> float | None:
    model = str(getattr(response, "model", ""))
    if backend_for(model).free(model):
        return 0.0  # litellm has no price for it
    try:
        cost = float(litellm.completion_cost(completion_response=response))
    except Exception:  # noqa: BLE001 - litellm raises for models it has no price for: cost unknown
        return None
    # litellm prices the server's own figures: a negative count must not make a call earn money back.
    return max(0.0, cost) if math.isfinite(cost) else None


def _add_cost(total: float | None, cost: float | None) -> float | None:
    return None if total is None or cost is None else total + cost


def _short(error: BaseException, limit: int = 300) -> str:
    # Redacted before the cut: cutting first left the first half of a key that straddled the limit.
    return cut(str(error), limit)
