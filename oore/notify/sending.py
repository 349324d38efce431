"""One HTTP request of a channel, and what its answer means for the delivery.

Every channel's request goes through `oore.providers.outbound.provider_client` (the SSRF guard)
and carries the delivery's `Idempotency-Key`. A failure becomes `DeliveryFailed` by one rule
(/tmp/notify-design.md, "Errors map"): no answer, 408, 429 and 5xx are retried (after the
target's Retry-After when it gives one); 403 is retried when it is GitHub's rate limit (its
`X-RateLimit-Remaining: 0` or a Retry-After); any other 4xx is refused for good. The text of
a failure names the target and the status, never the URL (a Slack webhook URL is its secret)
nor the exception's text (httpx quotes the URL).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from oore.errors import Forbidden, Unavailable
from oore.notify.base import DeliveryFailed
from oore.providers.outbound import provider_client
from oore.providers.provider_http import detail

if TYPE_CHECKING:
    import httpx  # for types only: oore.providers.outbound imports it on first use

RETRIED = frozenset({408, 425, 429})
MAX_DETAIL = 120


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: Mapping[str, str]
    # Sent as JSON; bytes are sent as they are (a signed webhook's body is the bytes signed).
    body: Mapping[str, Any] | bytes


class Sender:
    """Sends channel requests; one TLS context for all of them, made at the first send in a
    worker thread (loading the system's trust costs tens of milliseconds of CPU, and a few MiB
    that a daemon with nothing to send does not need)."""

    def __init__(self, *, allow_private: bool, tls: ssl.SSLContext | None = None) -> None:
        self.allow_private = allow_private
        self._tls = tls

    async def send(self, name: str, request: Request) -> httpx.Response:
        """The answer, whatever its status; no answer at all is a retryable `DeliveryFailed`
        naming `name` (the target as users know it: "GitHub", "Slack")."""
        import httpx

        if self._tls is None:
            self._tls = await trio.to_thread.run_sync(httpx.create_ssl_context)
        try:
            async with provider_client(allow_private=self.allow_private, verify=self._tls) as http:
                return await http.request(request.method, request.url, **_content(request))
        except Forbidden:
            raise DeliveryFailed(
                f"{name} is at a private, loopback or link-local address; Oore sends there only "
                "with OORE_ALLOW_PRIVATE_PROVIDERS=1",
                permanent=True,
            ) from None
        except Unavailable:
            raise DeliveryFailed(f"{name}: its host name does not resolve") from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{name} could not be reached ({type(exc).__name__})") from None


def _content(request: Request) -> dict[str, Any]:
    headers = dict(request.headers)
    if isinstance(request.body, bytes):
        return {"headers": headers, "content": request.body}
    return {"headers": headers, "json": request.body}


def failure(name: str, what: str, response: httpx.Response) -> DeliveryFailed:
    """What a non-2xx answer to `what` ("create the check run") means for the delivery."""
    said = _detail(response)
    why = f"{name} refused to {what}: HTTP {response.status_code}" + (f" ({said})" if said else "")
    return failed(why, response)


def failed(why: str, response: httpx.Response) -> DeliveryFailed:
    """The non-2xx `response`, told as `why`: retried (after its Retry-After) or refused for
    good, by the rule above."""
    status = response.status_code
    retry_after = retry_after_of(response.headers)
    if status in RETRIED or status >= 500:
        return DeliveryFailed(why, retry_after=retry_after)
    if status == 403 and (
        retry_after is not None or response.headers.get("X-RateLimit-Remaining") == "0"
    ):
        return DeliveryFailed(why + "; rate limited", retry_after=retry_after or _reset(response))
    return DeliveryFailed(why, permanent=True)


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """Seconds a `Retry-After` header asks to wait (a number or an HTTP date); None if absent
    or unreadable."""
    raw = headers.get("Retry-After", headers.get("retry-after", "")).strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _detail(response: httpx.Response) -> str:
    # The provider's own words (`message`, `error`): never holds our credential.
    try:
        response.json()
    except ValueError:
        return ""
    return detail(response)[:MAX_DETAIL]


def _reset(response: httpx.Response) -> float | None:
    """Seconds until GitHub's rate limit window resets (`X-RateLimit-Reset`, epoch seconds)."""
    raw = response.headers.get("X-RateLimit-Reset", "")
    try:
        return max(0.0, float(raw) - time.time())
    except ValueError:
        return None


def with_token(request: Request, token: str, scheme: str = "Bearer") -> Request:
    headers = {**request.headers, "Authorization": f"{scheme} {token}"}
    return Request(request.method, request.url, headers, request.body)


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; {} when it is none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
