"""The DNS-rebinding guard shared by the viewer and the local model servers' front."""

import pytest

from protocols.host_header import names_this_server, split_host


@pytest.mark.parametrize("value, expected", [
    ("127.0.0.1:8080", True), ("localhost:8080", True), ("LOCALHOST:8080", True), ("[::1]:8080", True),
    ("localhost", True),  # no port: the default one of the scheme, still our name
    ("attacker.example:8080", False), ("attacker.example", False), ("127.0.0.1:8081", False),
    ("127.0.0.1:", False), ("127.0.0.1.attacker.example:8080", False), ("", False), (None, False),
])
def test_only_a_loopback_name_and_this_port_pass(value, expected):
    assert names_this_server(value, "8080") is expected


def test_a_wildcard_bind_accepts_ip_literals_but_no_domain():
    assert names_this_server("192.168.1.5:8080", "8080", any_ip_literal=True)
    assert not names_this_server("rebound.example:8080", "8080", any_ip_literal=True)
    assert not names_this_server("192.168.1.5:8080", "8080")


def test_split_host_reads_bracketed_ipv6():
    assert split_host("[::1]:8765") == ("[::1]", "8765")
    assert split_host("[::1]") == ("[::1]", None)
