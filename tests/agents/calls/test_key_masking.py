"""Keys echoed by a server never leave the client whole or in part (issue 28): masked before the error line is cut, at
every offset around the cut; the auth hint names the variable the user gave."""

import pytest

from agents.calls.client import LLMClient, LLMConfig, LLMError
from tests.conftest import StubServer
from tests.planted_key import CUT, KEY, KEY_ENV, error_at, leaks


async def test_an_echoed_key_never_leaves_half_of_itself_at_any_offset_around_the_cut(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    probe = (400, {"error": {"message": "PROBE", "type": "invalid_request_error"}})
    with StubServer([probe]) as server:
        client = LLMClient(LLMConfig(model="openai/stub", api_base=server.api_base, api_key_env=KEY_ENV,
                                     max_retries=0))
        with pytest.raises(LLMError) as failed:
            await client.complete([{"role": "user", "content": "hi"}])
    # What litellm writes before the server's message, so that the key lands on each side of the cut in turn.
    line = str(failed.value)
    prefix = line.index("PROBE") - line.index("attempt(s): ") - len("attempt(s): ")
    offsets = range(CUT - prefix - len(" key=") - len(KEY) - 2, CUT - prefix + 2)
    with StubServer([error_at(offset) for offset in offsets]) as server:
        client = LLMClient(LLMConfig(model="openai/stub", api_base=server.api_base, api_key_env=KEY_ENV,
                                     max_retries=0))
        messages = []
        for _ in offsets:
            with pytest.raises(LLMError) as failed:
                await client.complete([{"role": "user", "content": "hi"}])
            messages.append(str(failed.value))
    assert any(message.endswith("...") for message in messages)  # some were cut
    assert any("[REDACTED]" in message for message in messages)
    assert [message for message in messages if leaks(message)] == []


def test_the_auth_hint_names_the_variable_the_user_gave():
    from agents.calls.client import auth_hint

    assert "MYCRED" in auth_hint("openai/gpt-4o-mini", "policy", "MYCRED")
    assert "OPENAI_API_KEY" not in auth_hint("openai/gpt-4o-mini", "policy", "MYCRED")


async def test_a_refused_key_from_mycred_says_mycred(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    refused = (401, {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}})
    with StubServer([refused]) as server:
        client = LLMClient(LLMConfig(model="openai/stub", api_base=server.api_base, api_key_env=KEY_ENV,
                                     max_retries=0))
        with pytest.raises(LLMError) as failed:
            await client.complete([{"role": "user", "content": "hi"}], role="policy")
    assert "MYCRED" in str(failed.value) and "OPENAI_API_KEY" not in str(failed.value)
    assert not leaks(str(failed.value))
