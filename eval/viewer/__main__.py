"""Browse runs in a browser: trees coloured by correctness, long thoughts, trained models' samples, filters, maths
rendered, and the same problem from several runs side by side.

    python -m eval.viewer runs/demo runs/tree [--port 8765]
    python -m eval.viewer runs/acc-journey runs/acc-shortcut runs/dpo/samples   # accuracy and DPO sampling runs

Serves on 127.0.0.1 only; another host needs an explicit `--host` (the viewer shows your data), and requests
that name the server otherwise (a DNS-rebinding page) are refused. Works offline: plain HTML, CSS, JS and SVG
from this package (KaTeX vendored), nothing from a CDN. A run that is still being written shows its new lines on
the next request; malformed lines are skipped, counted in the header, and the first is named (file:line) on stderr.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from eval.viewer.data import Store
from eval.viewer.server import make_server
from protocols.cli import command_parser, parse


@dataclass(frozen=True)
class ViewerConfig:
    """Where the viewer serves (the runs it shows are the positional arguments)."""

    port: int = field(default=8765, metadata={"help": "0 picks a free port"})
    host: str | None = field(
        default=None, metadata={"help": "serve on this address instead of 127.0.0.1 (exposes your data)"})


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("eval.viewer", (ViewerConfig,), __doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories, folders of runs (an ablation) or records.jsonl files")
    config, args = parse(parser, argv)
    if not 0 <= config.port <= 65535:  # before reading the runs, which can take a while
        print(f"error: --port {config.port}: expected 0-65535 (0 picks a free port)", file=sys.stderr)
        return 2
    try:
        store = Store(args.runs)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    host = config.host or "127.0.0.1"
    try:
        server = make_server(store, host=host, port=config.port, allow_remote=config.host is not None)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a name that does not resolve, a port in use: say which flag to change
        print(f"error: cannot serve on --host {host} --port {config.port}: {error.strerror or error}", file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    print(f"viewer: http://{host}:{port}/  ({len(store.entries)} records from {len(store.runs)} run(s); Ctrl-C stops)",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
