"""A reply's HTTP body is read with a cap: a server that sends 100 MB is cut off after MAX_REPLY_BYTES, never read
whole (the character cap on the text, `max_reply_chars`, applies only after the whole body was parsed: 724 MB
resident for one 100 MB reply).

Applies to the OpenAI-compatible servers a run names by address (embedded/, gguf/, `--*-api-base` with the
`openai/` or `hosted_vllm/` prefix): litellm takes the HTTP client of such a call as its documented `client`
argument, and here it is one whose transport counts the body's bytes. Calls through the Router and to hosted
providers by name use litellm's own clients. Hand-written because neither httpx nor litellm has a body-size limit.
"""

from __future__ import annotations

from protocols.error_chain import find_cause

import asyncio
import weakref
from collections.abc import AsyncIterator
from typing import Any

import httpx

# A reply of n samples at the largest character cap (8 x an expansion's 16k tokens) is a few MB of JSON; 16 MiB
# leaves room for n, logprobs and escaping, and bounds what one call can hold in memory.
MAX_REPLY_BYTES = 16 * 2**20
# Where a capped client is used: the providers litellm reaches through the OpenAI SDK or its own HTTP handler.
CAPPED_PROVIDERS = {"openai": "openai_sdk", "hosted_vllm": "litellm_http"}


class ReplyTooLarge(Exception):
    """A reply body went past the cap; `read` is how many bytes were read before stopping."""

    def __init__(self, read: int, limit: int):
        super().__init__(f"the reply was larger than {limit:,} bytes; stopped reading after {read:,}")
        self.read, self.limit = read, limit


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, transport: CappedTransport):
        self.inner, self.transport, self.read = inner, transport, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.read += len(chunk)
            self.transport.bytes_read += len(chunk)
            if self.read > self.transport.limit:
                raise ReplyTooLarge(self.read, self.transport.limit)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class CappedTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, with every response body counted as it is read and cut past `limit` bytes."""

    def __init__(self, limit: int | None = None, **transport_options: Any):
        self.inner = httpx.AsyncHTTPTransport(**transport_options)
        self.limit = MAX_REPLY_BYTES if limit is None else limit
        self.bytes_read = 0  # body bytes over all responses: what a test reads to see that the cap held

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await response.aclose()  # refused before a byte of the body is read
            raise ReplyTooLarge(0, self.limit)
        return httpx.Response(response.status_code, headers=response.headers, request=request,
                              stream=_CappedStream(response.stream, self), extensions=response.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()


# One client per (event loop, server, key): httpx connections belong to the loop that opened them.
_CLIENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def capped_client(provider: str, api_base: str, api_key: str | None, timeout: float) -> Any:
    """litellm's `client` argument for a call to `api_base` through `provider`, or None where no cap applies."""
    kind = CAPPED_PROVIDERS.get(provider)
    if kind is None or not api_base:
        return None
    per_loop = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    key = (kind, api_base, api_key, timeout)
    if key not in per_loop:
        transport = CappedTransport()
        if kind == "openai_sdk":
            from openai import AsyncOpenAI

            http = httpx.AsyncClient(transport=transport, timeout=timeout)
            # No retries here: our client retries transient errors, in one place (agents.calls.client).
            per_loop[key] = AsyncOpenAI(api_key=api_key or "none", base_url=api_base, http_client=http,
                                        timeout=timeout, max_retries=0)
        else:
            from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

            per_loop[key] = AsyncHTTPHandler(timeout=timeout, transport=transport)
        per_loop[key]._longthought_transport = transport
    return per_loop[key]


def too_large(error: BaseException) -> ReplyTooLarge | None:
    """The ReplyTooLarge behind an error that litellm or the OpenAI SDK wrapped (as a connection error), if any."""
    return find_cause(error, ReplyTooLarge)
