"""The LLM client: retries, timeouts and cache against local stub servers; usage against the real embedded model."""

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from agents.calls.client import Completion, LLMClient, LLMConfig, LLMError
from tests.conftest import chat_completion_body

MESSAGES = [{"role": "user", "content": "What is 2+2? Answer with one number."}]


def _stub_client(api_base: str, tmp_path=None, **overrides) -> LLMClient:
    config = LLMConfig(model="openai/stub", api_base=api_base, api_key_env="LONGTHOUGHT_TEST_KEY",
                       backoff_initial=0.05, backoff_max=0.1, cache_dir=tmp_path)
    return LLMClient(config, **overrides)


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch):
    monkeypatch.setenv("LONGTHOUGHT_TEST_KEY", "sk-test-not-a-real-key")


async def test_rate_limited_twice_then_ok_counts_two_retries(stub_server):
    rate_limited = (429, {"error": {"message": "slow down", "type": "rate_limit_error"}})
    with stub_server([rate_limited, rate_limited, (200, chat_completion_body("4"))]) as server:
        client = _stub_client(server.api_base)
        completion = await client.complete(MESSAGES, role="policy")
    assert completion.text == "4"
    assert completion.retries == 2
    assert len(server.requests) == 3
    assert client.usage["policy"].retries == 2 and client.usage["policy"].calls == 1


async def test_client_errors_are_not_retried(stub_server):
    with stub_server([(400, {"error": {"message": "bad request", "type": "invalid_request_error"}})]) as server:
        client = _stub_client(server.api_base)
        with pytest.raises(LLMError, match="1 attempt"):
            await client.complete(MESSAGES)
    assert len(server.requests) == 1


async def test_a_server_that_never_answers_times_out(stub_server):
    with stub_server([], hang=True) as server:
        client = _stub_client(server.api_base, timeout=0.5, max_retries=1)
        started = asyncio.get_running_loop().time()
        with pytest.raises(LLMError, match="(?i)timeout|timed out"):
            await client.complete(MESSAGES)
        elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 15
    assert len(server.requests) == 2  # the first try and one retry


async def test_the_api_key_is_sent_but_never_kept(stub_server, tmp_path):
    with stub_server([(200, chat_completion_body("4"))]) as server:
        client = _stub_client(server.api_base, tmp_path)
        await client.complete(MESSAGES)
    assert "sk-test-not-a-real-key" not in repr(client.config)
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert b"sk-test-not-a-real-key" not in file.read_bytes()


async def test_missing_key_variable_is_one_clear_line(stub_server, monkeypatch):
    monkeypatch.delenv("LONGTHOUGHT_TEST_KEY")
    with stub_server([(200, chat_completion_body("4"))]) as server:
        with pytest.raises(LLMError, match="environment variable LONGTHOUGHT_TEST_KEY is not set"):
            await _stub_client(server.api_base).complete(MESSAGES)


async def test_samples_missing_from_a_server_that_ignores_n_are_requested_again(stub_server, tmp_path):
    with stub_server([(200, chat_completion_body("a", n=1))]) as server:
        completion = await _stub_client(server.api_base, tmp_path).complete(MESSAGES, n=3, seed=5)
    assert completion.texts == ["a", "a", "a"]
    assert len(server.requests) == 3
    assert [request.get("seed") for request in server.requests] == [5, 6, 7]


async def test_cache_replays_per_sample_index(stub_server, tmp_path):
    with stub_server([(200, chat_completion_body("first", n=2))]) as server:
        await _stub_client(server.api_base, tmp_path).complete(MESSAGES, n=2, seed=1)
        again = await _stub_client(server.api_base, tmp_path).complete(MESSAGES, n=3, seed=1)
    assert len(server.requests) == 2  # the second call asked only for the third sample
    assert again.cache_hits == 2
    assert server.requests[1]["seed"] == 3


def test_bad_input_is_rejected_before_any_call():
    with pytest.raises(ValueError, match=r"messages\[0\]"):
        asyncio.run(LLMClient().complete([{"role": "wizard", "content": "hi"}]))
    with pytest.raises(ValueError, match="max_concurrency"):
        LLMConfig(max_concurrency=0)


def test_concurrency_follows_the_local_server_and_the_flag():
    from agents.backends import embedded

    assert LLMConfig().concurrency() == embedded.slots(embedded.DEFAULT_MODEL)  # the embedded server's slots
    assert LLMConfig(model="openai/gpt-4o-mini").concurrency() == 8
    assert LLMConfig(model="openai/gpt-4o-mini", max_concurrency=32).concurrency() == 32


async def _peak_in_flight(monkeypatch, clients: list[LLMClient], calls_each: int) -> int:
    import litellm

    in_flight = peak = 0

    async def slow_completion(**kwargs):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return litellm.ModelResponse(**chat_completion_body("4"))

    monkeypatch.setattr(litellm, "acompletion", slow_completion)
    await asyncio.gather(*(client.complete(MESSAGES, max_tokens=4) for client in clients for _ in range(calls_each)))
    return peak


async def test_the_gate_holds_its_limit_and_is_shared_by_roles_of_one_model(monkeypatch):
    assert await _peak_in_flight(monkeypatch, [_stub_client("http://x", max_concurrency=3)], 12) == 3
    # A policy and a critic on one server share its gate, sized to the larger limit asked for (not 2 + 5).
    shared = [_stub_client("http://y", model="openai/shared", max_concurrency=2),
              _stub_client("http://y", model="openai/shared", max_concurrency=5)]
    assert await _peak_in_flight(monkeypatch, shared, 10) == 5


# --- the real embedded model, through litellm and the llama.cpp server ---------------------------------------------


@pytest.mark.slow
async def test_embedded_completion_has_usage(embedded_api_base):
    client = LLMClient()
    completion = await client.complete(MESSAGES, max_tokens=16, temperature=0.0, role="policy")
    assert isinstance(completion, Completion) and completion.text.strip()
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0
    assert completion.cost is None  # litellm has no price for a local model
    assert client.usage["policy"].completion_tokens == completion.completion_tokens


@pytest.mark.slow
async def test_embedded_four_concurrent_calls(embedded_api_base):
    client = LLMClient(max_concurrency=4)
    prompts = [[{"role": "user", "content": f"Say the number {i}."}] for i in range(4)]
    results = await asyncio.gather(*(client.complete(p, max_tokens=8, temperature=0.0) for p in prompts))
    assert all(result.text for result in results)
    assert client.total_usage().calls == 4


@pytest.mark.slow
async def test_embedded_cache_replay_makes_no_server_call(embedded_api_base, tmp_path, monkeypatch):
    first = await LLMClient(cache_dir=tmp_path).complete(MESSAGES, max_tokens=16, temperature=0.8, seed=3)
    import litellm

    async def no_calls(**kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(litellm, "acompletion", no_calls)
    replay = await LLMClient(cache_dir=tmp_path).complete(MESSAGES, max_tokens=16, temperature=0.8, seed=3)
    assert replay.texts == first.texts and replay.cache_hits == 1 and replay.cost == 0.0
    assert replay.cached_completion_tokens == replay.completion_tokens == first.completion_tokens


def _llama_servers() -> set[str]:
    found = subprocess.run(["pgrep", "-f", "agents.backends.llama_server"], capture_output=True, text=True)
    return set(found.stdout.split())


def _parent(pid: str) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@pytest.mark.slow
def test_cli_prints_answer_and_usage_and_leaves_no_server():
    before = _llama_servers()
    process = subprocess.Popen(
        [sys.executable, "-m", "agents.llm", "--model", "embedded/smollm2-135m", "--prompt", "What is 2+2?",
         "--max-tokens", "24"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stdout + stderr
    assert "completion_tokens=" in stdout and "latency=" in stdout
    # A server the CLI left behind would be re-parented (to init or a subreaper) or still name the CLI as parent;
    # servers that other processes on this machine started meanwhile keep their own, living parents.
    orphans = [pid for pid in _llama_servers() - before
               if _parent(pid) in (1, process.pid) or not Path(f"/proc/{_parent(pid)}").exists()
               or "python" not in Path(f"/proc/{_parent(pid)}/cmdline").read_bytes().decode(errors="replace")]
    assert not orphans, f"the CLI left llama.cpp server(s) running: {orphans}"


async def test_a_missing_key_is_not_retried_and_says_which_variable_to_set(monkeypatch):
    import time

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = LLMClient(model="openai/gpt-4o-mini", backoff_initial=5, max_retries=4)
    started = time.monotonic()
    with pytest.raises(LLMError) as error:
        await client.complete(MESSAGES, max_tokens=4, role="critic")
    message = str(error.value)
    assert time.monotonic() - started < 4  # one attempt, no 5 s backoff
    assert "authentication failed: set OPENAI_API_KEY, or pass --critic-api-key-env NAME" in message, message
    assert "\n" not in message


async def test_a_refused_key_disguised_as_a_server_error_is_not_retried(stub_server):
    refused = (500, {"error": {"message": "Missing credentials. Please pass an `apiKey`", "type": "server_error"}})
    with stub_server([refused, refused, (200, chat_completion_body("4"))]) as server:
        with pytest.raises(LLMError, match="authentication failed"):
            await _stub_client(server.api_base).complete(MESSAGES, max_tokens=4)
    assert len(server.requests) == 1
