"""Acting as the GitHub App: its private key signs a short JWT, which buys an installation token
for each installation, and that token reads repositories and fetches them.

Installation tokens live an hour (https://docs.github.com/en/apps/creating-github-apps/
authenticating-with-a-github-app/generating-an-installation-access-token-for-a-github-app); one
is kept per installation and used until 5 minutes before it expires, so a fetch never starts with
a token about to lapse. GitHub may still refuse one earlier (the app's key was rotated, the
installation suspended and restored): an API call answered 401 forgets the token and tries once
more with a new one. The app's secrets are opened from the store when needed and never logged.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from oore.crypto import Sealer, aad
from oore.errors import CryptoError, NotFound, ProviderError
from oore.model import GithubApp
from oore.providers.outbound import provider_client
from oore.providers.provider_http import GITHUB
from oore.store.base import GithubAppStore

REFRESH_BEFORE = 5 * 60  # seconds before expiry a cached token is replaced
JWT_LIFETIME = 9 * 60  # GitHub accepts at most 10 minutes
JWT_BACKDATE = 60  # "to protect against clock drift", as GitHub's documentation advises
NO_APP = "no GitHub App is set up; run `oore github setup` first"


@dataclass(frozen=True, slots=True, repr=False)
class AppKeys:
    """The app's id and its opened secrets; `repr` shows neither secret."""

    app: GithubApp
    private_key: bytes
    webhook_secret: bytes

    def __repr__(self) -> str:
        return f"AppKeys(app_id={self.app.app_id}, <secrets redacted>)"


@dataclass(frozen=True, slots=True, repr=False)
class _Token:
    value: str
    expires_at: float  # seconds since the epoch

    def __repr__(self) -> str:
        return "_Token(<redacted>)"


class GithubApps:
    """The daemon's GitHub App: one per daemon, shared by the HTTP side and the fetches."""

    def __init__(
        self,
        store: GithubAppStore,
        sealer: Sealer,
        *,
        api_url: str,
        allow_private: bool,
        clock: Callable[[], float] = time.time,  # when a cached token is stale (tests move it)
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.api_url = api_url.rstrip("/")
        self.allow_private = allow_private
        self.clock = clock
        self._tokens: dict[tuple[str, int], _Token] = {}
        self._locks: dict[int, trio.Lock] = {}

    async def keys(self) -> AppKeys:
        """The app and its opened secrets; NotFound when none is set up."""
        found = await self.store.github_app_with_secrets()
        if found is None:
            raise NotFound(NO_APP)
        app, sealed = found
        try:
            pem = self.sealer.open(
                sealed.private_key_sealed, aad("github_app", app.id, "private_key")
            )
            secret = self.sealer.open(
                sealed.webhook_secret_sealed, aad("github_app", app.id, "webhook_secret")
            )
        except CryptoError as exc:
            raise CryptoError(
                "the GitHub App's secrets cannot be opened with this encryption key; "
                "run `oore github setup` again"
            ) from exc
        return AppKeys(app, pem, secret)

    async def app_jwt(self, keys: AppKeys) -> str:
        """A JWT that proves to GitHub that Oore holds the app's private key."""
        # The real time, whatever `clock` says: GitHub checks it against its own clock.
        now = int(time.time())
        claims = {"iat": now - JWT_BACKDATE, "exp": now + JWT_LIFETIME, "iss": str(keys.app.app_id)}
        # RSA signing takes a millisecond or two: off the event loop.
        return await trio.to_thread.run_sync(_sign, claims, keys.private_key)

    async def installation_token(self, installation_id: int) -> str:
        """A token for the installation, minted when there is none valid for 5 more minutes."""
        keys = await self.keys()
        lock = self._locks.setdefault(installation_id, trio.Lock())
        async with lock:  # one mint per installation at a time; the others reuse it
            cached = self._tokens.get((keys.app.id, installation_id))
            if cached is not None and self.clock() < cached.expires_at - REFRESH_BEFORE:
                return cached.value
            minted = await self._mint(keys, installation_id)
            self._tokens[(keys.app.id, installation_id)] = minted
            return minted.value

    def forget_token(self, installation_id: int, token: str) -> None:
        """Drop `token` (GitHub refused it) so that the next call mints a new one."""
        for key, cached in list(self._tokens.items()):
            if key[1] == installation_id and cached.value == token:
                del self._tokens[key]

    async def installation_get(self, installation_id: int, path: str) -> dict[str, Any]:
        """GET an API `path` as the installation; one retry with a new token after a 401."""
        async with provider_client(allow_private=self.allow_private) as http:
            for attempt in (1, 2):
                token = await self.installation_token(installation_id)
                response = await GITHUB.send(http, "GET", self.api_url + path, token)
                if response.status_code != 401 or attempt == 2:
                    return GITHUB.json_object(response, f"read {path}")
                self.forget_token(installation_id, token)
        raise AssertionError("unreachable")

    async def _mint(self, keys: AppKeys, installation_id: int) -> _Token:
        url = f"{self.api_url}/app/installations/{installation_id}/access_tokens"
        async with provider_client(allow_private=self.allow_private) as http:
            response = await GITHUB.send(http, "POST", url, await self.app_jwt(keys))
        if response.status_code == 401:
            raise ProviderError(
                "GitHub refused the app's JWT (401): check this machine's clock, or set the app "
                "up again with `oore github setup` if it was deleted"
            )
        if response.status_code == 404:
            raise NotFound(
                f"GitHub App installation {installation_id} does not exist (any more); "
                "install the app again and register the repository from the new installation"
            )
        body = GITHUB.json_object(response, f"issue a token for installation {installation_id}")
        token = GITHUB.field(body, "token", str, "the installation token request")
        expires = GITHUB.field(body, "expires_at", str, "the installation token request")
        return _Token(token, _epoch(expires))


def _sign(claims: dict[str, Any], private_key: bytes) -> str:
    # Imported on first use: a daemon without a GitHub App never needs PyJWT (2 MiB resident).
    import jwt

    return jwt.encode(claims, private_key, algorithm="RS256")


def _epoch(stamp: str) -> float:
    try:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ProviderError("GitHub's installation token has no valid expires_at") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()
