"""Who a request comes from, behind trusted reverse proxies or not (oore.http.client_address)."""

from __future__ import annotations

import ipaddress

import pytest

from oore.http.client_address import client_address, from_scope, throttle_key

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # Not from a trusted proxy: the header is anyone's words.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # From a proxy: the address it appended; what the client wrote before it is not read.
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        # Through two trusted proxies: past both; several header lines read as one list.
        ("10.0.0.2", ["198.51.100.1, 10.0.0.7"], "198.51.100.1"),
        ("10.0.0.2", ["6.6.6.6", "198.51.100.1", "10.0.0.7"], "198.51.100.1"),
        # Nothing forwarded, or all of it trusted: the last address believed.
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["10.0.0.3"], "10.0.0.3"),
        # No address where one should be: the proxy's own (one count for all, never the client's
        # choice of key).
        ("10.0.0.2", ["unknown"], "10.0.0.2"),
        ("10.0.0.2", ["198.51.100.1, garbage"], "10.0.0.2"),
        # The forms proxies write: with a port, bracketed IPv6, IPv4 mapped into IPv6.
        ("10.0.0.2", ["198.51.100.1:4711"], "198.51.100.1"),
        ("::1", ["[2001:db8::5]:443"], "2001:db8::5"),
        ("::ffff:10.0.0.2", ["2001:db8::5"], "2001:db8::5"),
        (None, ["198.51.100.1"], "unknown"),
        # A zone id (any text after "%", even a newline for the log) or a huge value: no
        # address, so the proxy's.
        ("10.0.0.2", ["fe80::1%eth0"], "10.0.0.2"),
        ("10.0.0.2", ["fe80::1%evil\nsigned in from 1.2.3.4"], "10.0.0.2"),
        ("10.0.0.2", ["1" * 10_000], "10.0.0.2"),
    ],
)
def test_the_client_is_the_first_untrusted_address_from_the_right(
    peer: str | None, forwarded: list[str], client: str
) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


def test_with_no_trusted_proxies_the_header_is_never_read() -> None:
    assert client_address("10.0.0.2", ["198.51.100.1"], ()) == "10.0.0.2"


def test_an_asgi_scope_gives_its_client_and_headers() -> None:
    scope: dict[str, object] = {
        "client": ("10.0.0.2", 50000),
        "headers": [(b"host", b"ci"), (b"X-Forwarded-For", b"198.51.100.1")],
    }
    assert from_scope(scope, PROXIES) == "198.51.100.1"
    assert from_scope(scope, ()) == "10.0.0.2"
    assert from_scope({"headers": []}, PROXIES) == "unknown"


def test_sign_ins_are_counted_per_ipv4_address_and_per_ipv6_64() -> None:
    assert throttle_key("198.51.100.1") == "198.51.100.1"
    # One host usually holds a whole /64: every address in it shares one count.
    assert throttle_key("2001:db8:1:2::5") == throttle_key("2001:db8:1:2:ffff::9")
    assert throttle_key("2001:db8:1:2::5") == "2001:db8:1:2::/64"
    assert throttle_key("2001:db8:1:3::5") != throttle_key("2001:db8:1:2::5")
    assert throttle_key("unknown") == "unknown"
