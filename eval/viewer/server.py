"""A small JSON + static-file server for the viewer, on loopback unless a host is given explicitly.

Plain `http.server` (no framework): the viewer is local, single-user, and must run offline with nothing to
install. Model text leaves the server only as JSON; the page puts it into the DOM as text, never as HTML.
Requests must name the server by a loopback name or the `--host` given, and API calls from another origin are
refused: otherwise any web page the user visits could read every record through a DNS-rebinding domain.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from eval.viewer.data import ACTIONS, CHECKERS, CUT, OUTCOMES, Store
from eval.viewer.record_view import view
from protocols.host_header import LOOPBACK_NAMES, names_this_server
from protocols.types import SampleSet

STATIC = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".woff2": "font/woff2"}
# Self only. KaTeX (static/katex/) needs no 'unsafe-inline': it sets its layout styles through the CSSOM
# (element.style.x = ...), which a CSP does not govern; its only style *attributes* are on the hidden MathML copy
# and on a formula that fails to parse (a colour that style.css gives .katex-error instead), and those are
# dropped harmlessly. Fonts come from static/katex/fonts under default-src 'self'. Checked in the browser test,
# which counts the page's CSP violations while it renders maths.
CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
PAGE_PREFIX = "/problem/"  # /problem/<id>[?run=N]: the page, opened on that problem
WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


class ViewerServer(ThreadingHTTPServer):
    """The HTTP server, knowing which names it may be called by."""

    # socketserver listens with a backlog of 5: of 200 concurrent requests the kernel dropped the connections beyond
    # it, clients waited seconds for their SYN retries and some were never answered (114-184/200 in 11-12 s). 128
    # answered all, but a 200 burst still overflowed it in most runs (1.05 s: one SYN retry); 1024 did not (0.1-0.45
    # s). The kernel caps it at net.core.somaxconn. Measured with bench/viewer_scale.py --concurrent 200 --backlog N.
    request_queue_size = 1024
    daemon_threads = True

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]):
        super().__init__((host, port), handler)
        self.port = str(self.server_address[1])
        given = host.lower()
        self.names = set(LOOPBACK_NAMES) | ({f"[{given}]" if ":" in given else given} if given else set())
        # A wildcard bind answers to addresses we cannot list; an IP literal is never a rebinding domain.
        self.any_address = host in WILDCARDS

    def host_allowed(self, value: str | None) -> bool:
        """Whether a Host header names this server: a loopback name or the --host given, this port or none."""
        return names_this_server(value, self.port, self.names, any_ip_literal=self.any_address)

    def handle_error(self, request: object, client_address: tuple) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that left needs no traceback
            super().handle_error(request, client_address)


class BadQuery(ValueError):
    """A query value the API cannot use; the message names the parameter."""


def _int(query: dict[str, str], name: str, default: int | None) -> int | None:
    value = query.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise BadQuery(f"{name}: expected an integer >= 0, got {value[:40]!r}")
    return number


def _choice(query: dict[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    value = query.get(name)
    if value is not None and value not in choices:
        raise BadQuery(f"{name}: expected one of {', '.join(choices)}, got {value[:40]!r}")
    return value


def static_names() -> dict[str, Path]:
    """The files the server may send, by URL path ("app.js", "katex/fonts/KaTeX_Main-Regular.woff2"): the package's
    static files with a known content type, listed from disk; a request is looked up here, never joined to a path."""
    return {file.relative_to(STATIC).as_posix(): file for file in sorted(STATIC.rglob("*"))
            if file.is_file() and file.suffix in CONTENT_TYPES}


def make_handler(store: Store) -> type[BaseHTTPRequestHandler]:
    files = static_names()  # once: the package's files do not change while it serves

    class Handler(BaseHTTPRequestHandler):
        server: ViewerServer

        def log_message(self, *args: object) -> None:  # quiet: the terminal is the user's
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            # The page needs nothing from elsewhere; forbid it, so injected markup could not load anything either.
            self.send_header("content-security-policy", CSP)
            self.send_header("x-content-type-options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, payload: object, status: int = 200) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            host = self.headers.get("host")
            if not self.server.host_allowed(host):
                return self._send(HTTPStatus.FORBIDDEN, b"forbidden: unknown Host\n", "text/plain")
            url = urlparse(self.path)
            if url.path.startswith("/api/"):
                origin = self.headers.get("origin")
                if origin is not None and origin.lower() != f"http://{host}".lower():
                    return self._send(HTTPStatus.FORBIDDEN, b"forbidden: cross-origin request\n", "text/plain")
                try:
                    return self._api(url.path, {key: values[-1] for key, values in parse_qs(url.query).items()})
                except BadQuery as error:
                    return self._json({"error": str(error)}, HTTPStatus.BAD_REQUEST)
            # /problem/<id> is the page itself, which opens that problem: a link a researcher can share or screenshot.
            name = "index.html" if url.path.startswith(PAGE_PREFIX) else url.path.lstrip("/") or "index.html"
            # Only the package's own files, by exact name: no path from the request ever reaches the file system.
            file = files.get(name)
            if file is None:
                return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            return self._send(200, file.read_bytes(), CONTENT_TYPES.get(file.suffix, "application/octet-stream"))

        def _api(self, path: str, query: dict[str, str]) -> None:
            store.refresh()  # a run still being written shows its new lines
            if path == "/api/stats":
                return self._json(store.stats())
            if path == "/api/problems":
                limit = _int(query, "limit", 500)
                run = _int(query, "run", None)
                if run is not None and run >= len(store.runs):
                    raise BadQuery(f"run: expected 0-{len(store.runs) - 1} (the runs given), got {run}")
                scope = store.filter(attempt=query.get("attempt"), run=run, query=query.get("q"),
                                     action=_choice(query, "action", ACTIONS),
                                     outcome=_choice(query, "outcome", OUTCOMES), cut=_choice(query, "cut", CUT),
                                     checkers=_choice(query, "checkers", CHECKERS))
                return self._json({"total": len(scope), "counts": store.counts(scope),
                                   "problems": [entry.summary() for entry in scope[:limit]]})
            if path == "/api/record":
                record = store.record(_int(query, "run", -1), query.get("id", ""))
                if record is None:
                    return self._json({"error": "no such record"}, HTTPStatus.NOT_FOUND)
                # "kind" tells the page which view to draw: a synthesis record or a sample set; "view" is what it shows
                # beside the row (oracle roles, narrated nodes, paragraphs tied to nodes, draft and rewrite).
                run = _int(query, "run", -1)
                return self._json({"kind": "samples" if isinstance(record, SampleSet) else "records",
                                   **json.loads(record.model_dump_json()),
                                   "view": view(record, store.run_oracle_roles(run))})
            return self._json({"error": "no such endpoint"}, HTTPStatus.NOT_FOUND)

    return Handler


def make_server(store: Store, host: str = "127.0.0.1", port: int = 0, allow_remote: bool = False) -> ViewerServer:
    """The viewer's server; a non-loopback host is refused unless `allow_remote` (the CLI's explicit --host)."""
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port}: expected 0-65535 (0 picks a free port)")
    if not is_loopback(host) and not allow_remote:
        raise ValueError(f"refusing to serve on {host}: the viewer shows your data; pass --host explicitly to expose it")
    return ViewerServer(host, port, make_handler(store))
