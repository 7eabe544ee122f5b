"""The local model server's front door: a loopback port that refuses requests naming a foreign Host.

llama.cpp's server (xllamacpp 2026.10) has no Host allowlist, so a page in the user's browser that rebinds its own
domain to 127.0.0.1 could talk to it. The native server therefore listens only on a Unix socket in a private
directory (no port at all), and this front -- the one TCP port, on 127.0.0.1 -- answers a request only when its Host
header names the server by a loopback name and its port (protocols.host_header, the viewer's rule), then passes it
through unchanged (the key check stays llama.cpp's). Replies stream back as they come, so a streamed completion is
not held until it ends.

aiohttp (already installed by litellm) does the HTTP; one extra hop on loopback costs about a millisecond against
replies that take seconds (bench/main_job.py measures the job's share of its server's speed through it).
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import ClientSession, ClientTimeout, UnixConnector, web

from protocols.host_header import names_this_server

# Headers that describe one connection, not the message (RFC 9110 7.6.1), plus the ones aiohttp recomputes.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                         "transfer-encoding", "upgrade", "host", "content-length"})
# A request body larger than this is refused (413): a chat prompt for a 4k-token slot is a few hundred KiB at most.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
REFUSED_HOST = "refused: the Host header does not name this local server (127.0.0.1 or localhost and its port)"


def _passed_on(headers) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in _HOP_BY_HOP}


def make_app(port: int, socket_path: str) -> web.Application:
    """The front for a native server on `socket_path`, answering on 127.0.0.1:`port`."""
    own_port = str(port)

    async def open_upstream(app: web.Application):
        # No pool limit: the server's own slots decide how many requests run; no timeout: a reply takes what it takes.
        app["upstream"] = ClientSession(connector=UnixConnector(path=socket_path, limit=0),
                                        timeout=ClientTimeout(total=None), auto_decompress=False)
        yield
        await app["upstream"].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        if not names_this_server(request.headers.get("Host"), own_port):
            return web.Response(status=403, text=REFUSED_HOST)
        body = await request.read()
        try:
            upstream = await request.app["upstream"].request(
                request.method, f"http://localhost{request.rel_url}", headers=_passed_on(request.headers), data=body)
        except OSError:  # the socket is not there yet (model loading) or the server is stopping
            return web.Response(status=503, text="local model server not ready")
        async with upstream:
            response = web.StreamResponse(status=upstream.status, headers=_passed_on(upstream.headers))
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.cleanup_ctx.append(open_upstream)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def serve_in_thread(port: int, socket_path: str) -> threading.Event:
    """Run the front on 127.0.0.1:`port` in a daemon thread; returns an event set once it is listening (or failed:
    then the thread has raised and the caller's readiness check times out)."""
    listening = threading.Event()

    def run() -> None:
        async def main() -> None:
            runner = web.AppRunner(make_app(port, socket_path), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
            listening.set()
            await asyncio.Event().wait()  # until the process ends

        asyncio.run(main())

    threading.Thread(target=run, name="loopback-front", daemon=True).start()
    return listening
