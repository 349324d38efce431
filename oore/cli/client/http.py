"""The client's HTTP transport: one httpx client per command, and the one place where transport
failures and error answers become `CliError`s with their exit codes (httpx's
`map_httpcore_exceptions` idea, one level up). Commands never see an httpx exception.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from oore import __version__
from oore.cli.client.errors import CliError, ExitCode

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
LOGIN_HINT = "run `oore login` or set OORE_TOKEN"
INVALID_STATUSES = frozenset({400, 405, 409, 413, 415, 416, 422})
TRANSIENT_STATUSES = frozenset({502, 503, 504})  # a proxy in front of a restarting daemon


class Api:
    """Calls to one server with one token; use as `async with session.api() as api:`."""

    def __init__(self, server: str, token: str | None, *, timeout: httpx.Timeout = TIMEOUT) -> None:
        self.server = server
        self.token = token
        headers = {"User-Agent": f"oore/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=server, headers=headers, timeout=timeout, verify=_tls(server)
        )

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    async def json(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """The decoded JSON answer (None for an empty one, such as a 204)."""
        response = await self.send(method, path, json=body, params=params)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"{self.server}{path} did not answer JSON; is {self.server} an Oore server?",
                ExitCode.SERVER,
            ) from None

    async def get(self, path: str, **params: Any) -> Any:
        return await self.json("GET", path, params={k: v for k, v in params.items() if v})

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(self.server, exc) from exc
        self.check(response)
        return response

    @asynccontextmanager
    async def stream(
        self, path: str, headers: Mapping[str, str], *, allow: tuple[int, ...] = ()
    ) -> AsyncIterator[httpx.Response]:
        """A streamed GET; a failure while reading the body is translated too."""
        try:
            async with self._http.stream("GET", path, headers=headers) as response:
                if response.status_code not in allow:
                    await response.aread()
                    self.check(response)
                yield response
        except httpx.HTTPError as exc:
            raise transport_error(self.server, exc) from exc

    def check(self, response: httpx.Response) -> None:
        if not response.is_error:
            return
        raise answer_error(response, has_token=bool(self.token))


def _tls(server: str) -> ssl.SSLContext | bool:
    if server.startswith("https://"):
        return True  # httpx's default: verified against certifi's CA bundle
    # Plain http:// (redirects are not followed) never starts TLS, so loading a CA bundle, a
    # sixth of a command's start-up, is skipped; verification stays on, with nothing trusted.
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def answer_error(response: httpx.Response, *, has_token: bool) -> CliError:
    status = response.status_code
    message = _server_message(response)
    if status == 401:
        if has_token:
            return CliError(f"the server rejected the token; {LOGIN_HINT}", ExitCode.AUTH)
        return CliError(f"this needs a token; {LOGIN_HINT}", ExitCode.AUTH)
    if status == 403:
        return CliError(f"not allowed: {message}", ExitCode.AUTH)
    if status == 404:
        return CliError(f"not found: {message}", ExitCode.NOT_FOUND)
    if status == 410:
        return CliError(f"gone: {message}", ExitCode.NOT_FOUND)
    if status == 422:
        return CliError(f"invalid input: {message}", ExitCode.INVALID)
    if status in INVALID_STATUSES:
        return CliError(f"the server refused the request: {message}", ExitCode.INVALID)
    return CliError(
        f"the server failed ({status}): {message}; see the daemon's log (`oored logs`)",
        ExitCode.SERVER,
        transient=status in TRANSIENT_STATUSES,
    )


def transport_error(server: str, exc: httpx.HTTPError) -> CliError:
    reason = _reason(exc)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.DecodingError | httpx.TooManyRedirects):
        return CliError(f"{server} answered in a way oore cannot use: {reason}", ExitCode.SERVER)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        where = f"cannot reach {server}: {reason}"
    elif isinstance(exc, httpx.TimeoutException):
        where = f"{server} did not answer in time ({reason})"
    else:
        where = f"lost the connection to {server}: {reason}"
    return CliError(
        f"{where}. Is oored running? Check --server/OORE_SERVER",
        ExitCode.UNREACHABLE,
        transient=True,
    )


def _server_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return str(error["message"])
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:200]
        return text or response.reason_phrase or f"HTTP {response.status_code}"


def _reason(exc: BaseException) -> str:
    """The root cause in a few words: "connection refused", "unknown host", ..."""
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return "unknown host"
        if isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED:
            return "connection refused"
        if isinstance(cause, OSError) and cause.errno == errno.EHOSTUNREACH:
            return "host unreachable"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return str(exc) or type(exc).__name__


def _causes(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    pending = [exc]
    while pending and len(found) < 50:
        current = pending.pop()
        found.append(current)
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
        if isinstance(current, BaseExceptionGroup):
            pending += list(current.exceptions)
    return found
