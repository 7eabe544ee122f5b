"""A small JSON + static-file server for the viewer, on loopback unless a host is given explicitly.

Plain `http.server` (no framework): the viewer is local, single-user, and must run offline with nothing to
install. Model text leaves the server only as JSON; the page puts it into the DOM as text, never as HTML.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from eval.viewer.data import Store

STATIC = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8"}


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def make_handler(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet: the terminal is the user's
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            # The page needs nothing from elsewhere; forbid it, so injected markup could not load anything either.
            self.send_header("content-security-policy", "default-src 'self'; img-src 'self' data:")
            self.send_header("x-content-type-options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, payload: object, status: int = 200) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            if url.path == "/api/stats":
                return self._json(store.stats())
            if url.path == "/api/problems":
                try:
                    run = int(query["run"]) if query.get("run") else None
                except ValueError:
                    return self._json({"error": "run must be an integer"}, HTTPStatus.BAD_REQUEST)
                scope = store.filter(attempt=query.get("attempt"), run=run, query=query.get("q"),
                                     action=query.get("action"), outcome=query.get("outcome"))
                limit = int(query.get("limit", 500))
                return self._json({"total": len(scope), "counts": store.counts(scope),
                                   "problems": [entry.summary() for entry in scope[:limit]]})
            if url.path == "/api/record":
                try:
                    record = store.record(int(query.get("run", -1)), query.get("id", ""))
                except ValueError:
                    record = None
                if record is None:
                    return self._json({"error": "no such record"}, HTTPStatus.NOT_FOUND)
                return self._json(json.loads(record.to_json()))
            name = "index.html" if url.path in ("/", "") else url.path.lstrip("/")
            file = (STATIC / name).resolve()
            if file.parent != STATIC or not file.is_file():
                return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            return self._send(200, file.read_bytes(), CONTENT_TYPES.get(file.suffix, "application/octet-stream"))

    return Handler


def make_server(store: Store, host: str = "127.0.0.1", port: int = 0, allow_remote: bool = False) -> ThreadingHTTPServer:
    """The viewer's server; a non-loopback host is refused unless `allow_remote` (the CLI's explicit --host)."""
    if not is_loopback(host) and not allow_remote:
        raise ValueError(f"refusing to serve on {host}: the viewer shows your data; pass --host explicitly to expose it")
    server = ThreadingHTTPServer((host, port), make_handler(store))
    server.daemon_threads = True
    return server
