"""llama.cpp's native server for one GGUF, in its own process: `python -m agents.llama_server --model x.gguf`.

`agents.backends.embedded` starts this as a child and talks to it over HTTP (OpenAI-compatible, loopback only). The
server itself is C++ (from the `xllamacpp` wheel): parallel slots, continuous batching, prompt caching per slot.
This process configures it, runs its front door on the TCP port (agents.backends.loopback_front: a foreign Host header
is refused; the native server itself listens only on a private Unix socket) and blocks until it is told to stop.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path


def serve(model: str, alias: str, port: int, parallel: int, ctx_per_slot: int, threads: int) -> None:
    """Start the server and block until SIGTERM / SIGINT."""
    import xllamacpp

    from agents.backends.loopback_front import serve_in_thread

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.model_alias = {alias}
    # The native server listens on a Unix socket in a directory only this user can open; the one TCP port is the
    # front's (agents.backends.loopback_front), which refuses a foreign Host header -- llama.cpp has no such check.
    private = tempfile.mkdtemp(prefix="longthought-llama-")
    socket_path = str(Path(private) / "server.sock")
    params.hostnames = [socket_path]
    params.port = 0
    # llama.cpp answers every origin by default, so any web page open in the user's browser could read this
    # server's replies; allowing only the server's own origin stops that (we call it from Python, never a page).
    params.cors_origins = f"http://127.0.0.1:{port}"
    params.cors_origins_explicit = True
    # Every request must carry this key (llama.cpp answers 401 otherwise; /health stays open for readiness checks).
    key = os.environ.get("LONGTHOUGHT_EMBEDDED_API_KEY")
    if key:
        params.api_keys = [key]
    params.n_parallel = parallel
    # llama.cpp splits n_ctx evenly between slots; each slot keeps its last prompt's KV, so a debate that resends
    # its whole path every turn only pays for the new tokens when it lands on the same slot.
    params.n_ctx = parallel * ctx_per_slot
    params.cont_batching = True
    params.cache_prompt = True
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        server = xllamacpp.Server(params)
        if not serve_in_thread(port, socket_path).wait(30):
            print(f"llama_server: the front could not listen on 127.0.0.1:{port}", flush=True)
            raise SystemExit(1)
        print(f"llama_server: {alias} on 127.0.0.1:{port} (native server on {server.listening_address}; {parallel} "
              f"slots x {ctx_per_slot} tokens, {threads} threads, "
              f"{'key required' if key else 'NO KEY: set LONGTHOUGHT_EMBEDDED_API_KEY'}; foreign Host refused)",
              flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        shutil.rmtree(private, ignore_errors=True)
    # No graceful stop of the native server: its HTTP threads wait for the keep-alive connections the front holds,
    # so `del server` hung forever once requests had gone through the front (a bench killed by `timeout` left its
    # server running, deaf to SIGTERM). Nothing in it needs saving; the kernel frees the rest.
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents.llama_server", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="path of the .gguf file")
    parser.add_argument("--alias", required=True, help="the model name the API answers to")
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--parallel", type=int, default=8, help="parallel slots (concurrent requests)")
    parser.add_argument("--ctx-per-slot", type=int, default=4096, help="context tokens per slot")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads")
    args = parser.parse_args(argv)
    serve(args.model, args.alias, args.port, args.parallel, args.ctx_per_slot, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
