"""Whether an HTTP request's Host header names our own loopback server (the DNS-rebinding guard).

A page open in the user's browser can make its own domain resolve to 127.0.0.1 and then read what a local server
answers. The browser still sends that domain in the Host header, so a local server that answers only requests
naming it by a loopback name (or the address it was told to bind) cannot be read that way. Shared by the viewer
(eval.viewer.server) and the local model servers' front (agents.backends.loopback_front).
"""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def split_host(value: str) -> tuple[str, str | None]:
    """A Host header's name and port: "[::1]:8765" -> ("[::1]", "8765"), "localhost" -> ("localhost", None)."""
    end = value.find("]") + 1 if value.startswith("[") else len(value.partition(":")[0])
    name, rest = value[:end], value[end:]
    if not rest:
        return name, None
    return name, rest[1:] if rest.startswith(":") else ""  # "" matches no port: refused


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def names_this_server(value: str | None, port: str, names: frozenset[str] | set[str] = frozenset(LOOPBACK_NAMES),
                      any_ip_literal: bool = False) -> bool:
    """Whether a Host header names this server: one of `names` (lowercase), this port or none. With
    `any_ip_literal` (a wildcard bind, whose addresses we cannot list) any IP literal passes: it is never a
    rebinding domain. A missing header is refused."""
    if not value:
        return False
    name, given_port = split_host(value.lower())
    if given_port is not None and given_port != port:
        return False
    return name in names or (any_ip_literal and is_ip_literal(name))
