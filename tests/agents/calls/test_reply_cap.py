"""A 100 MB reply is read with a cap, never whole (issue 28): the bytes read are counted, not resident memory timed."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.calls import reply_cap
from agents.calls.client import LLMClient, LLMConfig, LLMError
from tests.conftest import chat_completion_body

HUGE = 100 * 2**20
CHUNK = 64 * 2**10


class HugeReplyServer:
    """An OpenAI-compatible server whose reply is a 100 MB JSON body, streamed (it never holds 100 MB itself);
    `declare=True` also sends its content-length up front. Counts the requests and the bytes it got out."""

    def __init__(self, declare: bool = False):
        self.requests = 0
        self.sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("content-length", 0)))
                server.requests += 1
                head = b'{"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": ' \
                       b'{"role": "assistant", "content": "'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                if declare:
                    self.send_header("content-length", str(HUGE))
                self.end_headers()
                try:
                    self.wfile.write(head)
                    server.sent += len(head)
                    while server.sent < HUGE:
                        self.wfile.write(b"a" * CHUNK)
                        server.sent += CHUNK
                except OSError:  # the client hung up: the point
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


CAP = 2**20  # the cap under test; 16 MiB in use (1 MiB here only to keep the test fast)


@pytest.fixture(autouse=True)
def _key_and_cap(monkeypatch):
    monkeypatch.setenv("LONGTHOUGHT_TEST_KEY", "sk-test-not-a-real-key")
    monkeypatch.setattr(reply_cap, "MAX_REPLY_BYTES", CAP)


def _client(api_base: str, prefix: str = "openai") -> LLMClient:
    # Retries on: a cut reply must not be asked for again.
    return LLMClient(LLMConfig(model=f"{prefix}/stub", api_base=api_base, api_key_env="LONGTHOUGHT_TEST_KEY",
                               max_retries=2, backoff_initial=0.01, backoff_max=0.02))


def _transport(api_base: str, prefix: str = "openai") -> reply_cap.CappedTransport:
    """The capped transport the calls to `api_base` went through (there is one per event loop, server and key)."""
    kind = reply_cap.CAPPED_PROVIDERS[prefix]
    (capped,) = [client for clients in reply_cap._CLIENTS.values() for key, client in clients.items()
                 if key[:2] == (kind, api_base)]
    return capped._longthought_transport


@pytest.mark.parametrize("prefix", ["openai", "hosted_vllm"])
async def test_a_100_mb_reply_is_cut_at_the_cap_and_not_retried(prefix):
    with HugeReplyServer() as server:
        llm = _client(server.api_base, prefix)
        with pytest.raises(LLMError, match="larger than 1,048,576 bytes"):
            await llm.complete([{"role": "user", "content": "hi"}])
        transport = _transport(server.api_base, prefix)
    assert CAP < transport.bytes_read <= CAP + CHUNK
    assert server.requests == 1  # not retried
    assert server.sent < HUGE / 4  # the client hung up; socket buffers hold a few MB at most


async def test_a_declared_100_mb_reply_is_refused_before_its_body_is_read():
    with HugeReplyServer(declare=True) as server:
        llm = _client(server.api_base)
        with pytest.raises(LLMError, match="larger than"):
            await llm.complete([{"role": "user", "content": "hi"}])
        assert _transport(server.api_base).bytes_read == 0
    assert server.requests == 1


async def test_ordinary_replies_pass_through_the_capped_client(stub_server):
    with stub_server([(200, chat_completion_body("x = 4", prompt_tokens=11, completion_tokens=5))]) as server:
        for prefix in ("openai", "hosted_vllm"):
            llm = _client(server.api_base, prefix)
            completion = await llm.complete([{"role": "user", "content": "2x = 8"}], max_tokens=7)
            assert (completion.text, completion.prompt_tokens, completion.completion_tokens) == ("x = 4", 11, 5)
            body = json.dumps(chat_completion_body("x = 4", prompt_tokens=11, completion_tokens=5)).encode()
            assert _transport(server.api_base, prefix).bytes_read == len(body)  # it went through the cap
    # The key travelled as before (the stub saw the request, with its sampling settings).
    assert [request["max_tokens"] for request in server.requests] == [7, 7]
