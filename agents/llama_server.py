"""llama.cpp's native server for one GGUF, in its own process: `python -m agents.llama_server --model x.gguf`.

`agents.embedded` starts this as a child and talks to it over HTTP (OpenAI-compatible, loopback only). The
server itself is C++ (from the `xllamacpp` wheel): parallel slots, continuous batching, prompt caching per slot.
This process only configures it and blocks until it is told to stop.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading


def serve(model: str, alias: str, port: int, parallel: int, ctx_per_slot: int, threads: int) -> None:
    """Start the server and block until SIGTERM / SIGINT."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.model_alias = {alias}
    params.hostnames = ["127.0.0.1"]
    params.port = port
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
    server = xllamacpp.Server(params)
    print(f"llama_server: {alias} on {server.listening_address} ({parallel} slots x {ctx_per_slot} tokens, "
          f"{threads} threads, {'key required' if key else 'NO KEY: set LONGTHOUGHT_EMBEDDED_API_KEY'})", flush=True)
    while not stop.wait(1.0):
        pass
    del server


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
