"""Which Origins may use the session cookie on a WebSocket: only OORE_BASE_URL's own."""

from __future__ import annotations

import pytest

from oore.errors import Forbidden
from oore.http.wsauth import _check_origin

BASE = "https://ci.example.com/"


@pytest.mark.parametrize(
    "origin",
    ["https://ci.example.com", "https://CI.example.com", "https://ci.example.com:443"],
)
def test_the_base_urls_origin_may_use_the_cookie(origin: str) -> None:
    _check_origin(origin, BASE)


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "",
        "null",
        "http://ci.example.com",  # another scheme is another origin
        "https://ci.example.com:8443",
        "https://ci.example.com.evil.example",
        "https://evil.example",
        "https://ci.example.com:99999",  # not a port: not an origin
    ],
)
def test_any_other_origin_is_refused(origin: str | None) -> None:
    with pytest.raises(Forbidden, match="session cookie refused"):
        _check_origin(origin, BASE)


def test_a_base_url_with_an_explicit_port() -> None:
    _check_origin("http://127.0.0.1:8080", "http://127.0.0.1:8080")
    with pytest.raises(Forbidden):
        _check_origin("http://127.0.0.1:8081", "http://127.0.0.1:8080")
    with pytest.raises(Forbidden):
        _check_origin("http://localhost:8080", "http://127.0.0.1:8080")
