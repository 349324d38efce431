"""GitLab's OAuth 2 authorization-code flow as wire calls: the sign-in URL, the code grant and
the refresh grant (https://docs.gitlab.com/api/oauth2/).

Oore asks for the `api` scope: creating and deleting project hooks needs it, and it also lets
git fetch over HTTPS (as user ``oauth2``). GitLab's access tokens expire (two hours) and each
refresh token works once: a refresh answers a new pair, which replaces the old one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from oore.errors import ProviderError
from oore.providers.provider_http import GITLAB, detail

if TYPE_CHECKING:
    import httpx  # for types only: oore.providers.outbound imports it on first use

SCOPES = "api"
# GitLab without token expiry (before 15.0, or with expiry turned off) answers no expires_in.
NO_EXPIRY = dt.timedelta(days=3650)


@dataclass(frozen=True, slots=True, repr=False)
class Application:
    """The OAuth application registered in GitLab (its 'Application ID' and 'Secret')."""

    application_id: str
    secret: str

    def __repr__(self) -> str:
        return f"Application({self.application_id!r}, <redacted>)"


@dataclass(frozen=True, slots=True, repr=False)
class TokenGrant:
    access_token: str
    refresh_token: str
    expires_at: dt.datetime

    def __repr__(self) -> str:
        return f"TokenGrant(<redacted>, expires {self.expires_at.isoformat()})"


def authorize_url(gitlab_url: str, app: Application, redirect_uri: str, state: str) -> str:
    query = {
        "client_id": app.application_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "state": state,
        "scope": SCOPES,
    }
    return f"{gitlab_url}/oauth/authorize?{urlencode(query)}"


async def exchange_code(
    http: httpx.AsyncClient, gitlab_url: str, app: Application, redirect_uri: str, code: str
) -> TokenGrant:
    form = {"grant_type": "authorization_code", "code": code}
    return await _grant(http, gitlab_url, app, redirect_uri, form, "exchange the sign-in code")


async def refresh(
    http: httpx.AsyncClient,
    gitlab_url: str,
    app: Application,
    redirect_uri: str,
    refresh_token: str,
) -> TokenGrant:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await _grant(http, gitlab_url, app, redirect_uri, form, "refresh Oore's token")


async def _grant(
    http: httpx.AsyncClient,
    gitlab_url: str,
    app: Application,
    redirect_uri: str,
    form: dict[str, str],
    what: str,
) -> TokenGrant:
    asked = dt.datetime.now(dt.UTC)
    body = form | {
        "client_id": app.application_id,
        "client_secret": app.secret,
        "redirect_uri": redirect_uri,
    }
    response = await GITLAB.send(http, "POST", f"{gitlab_url}/oauth/token", data=body)
    if not response.is_success:
        raise ProviderError(
            f"GitLab refused to {what}: {response.status_code} {detail(response)}; "
            "run `oore gitlab connect` again"
        )
    return _parse_grant(response, asked, what)


def _parse_grant(response: httpx.Response, asked: dt.datetime, what: str) -> TokenGrant:
    try:
        data = response.json()
        access, refresh_token = data["access_token"], data["refresh_token"]
        lifetime = data.get("expires_in")
    except (ValueError, KeyError, TypeError) as exc:
        raise ProviderError(f"GitLab's answer to {what} holds no tokens") from exc
    if not isinstance(access, str) or not isinstance(refresh_token, str) or not access:
        raise ProviderError(f"GitLab's answer to {what} holds no tokens")
    # Counted from when we asked, not GitLab's created_at: our clock decides when to refresh.
    valid = dt.timedelta(seconds=lifetime) if isinstance(lifetime, int) else NO_EXPIRY
    return TokenGrant(access, refresh_token, asked + valid)


async def username(http: httpx.AsyncClient, gitlab_url: str, access_token: str) -> str:
    """Who signed in (GET /api/v4/user), to show which account Oore acts as."""
    response = await GITLAB.send(http, "GET", f"{gitlab_url}/api/v4/user", access_token)
    user = GITLAB.json_of(response, "say who signed in")
    name = user.get("username") if isinstance(user, dict) else None
    if not isinstance(name, str):
        raise ProviderError("GitLab's answer to GET /api/v4/user names no user")
    return name
