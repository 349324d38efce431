"""The daemon's one GitLab OAuth connection: the application, sign-ins, and a current token.

`GitLabConnection` keeps the application's secret and the user's tokens sealed in the store and
opens them only to use them. A sign-in starts with a random state (only its hash is stored, valid
`STATE_TTL`, usable once) and ends when GitLab sends the browser back with a code. The access
token is refreshed when it has less than `margin` left, or when GitLab refuses it; one lock
serialises refreshes because GitLab's refresh tokens work once: two refreshes racing with the
same token would leave the loser, and then the connection, signed out. For the same reason a
refresh and the storing of its answer run shielded from cancellation (bounded by
`REFRESH_SECONDS`): a caller cancelled after GitLab used up the old refresh token, but before
the new one was stored, would otherwise sign the connection out.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from oore.config import Settings
from oore.crypto import Sealer, aad, hash_token
from oore.errors import BadRequest, Conflict, Unavailable
from oore.providers import gitlab_oauth
from oore.providers.gitlab_oauth import Application, TokenGrant
from oore.providers.outbound import provider_client
from oore.store.base import (
    GITLAB_ROW,
    GitLabStore,
    SealedGitLabApplication,
    SealedGitLabConnection,
)

if TYPE_CHECKING:
    import httpx  # for types only: oore.providers.outbound imports it on first use

log = logging.getLogger("oore.providers.gitlab")

STATE_TTL = dt.timedelta(minutes=10)
REFRESH_MARGIN = dt.timedelta(minutes=5)
REFRESH_SECONDS = 30.0
CALLBACK_PATH = "/api/gitlab/callback"
NOT_CONFIGURED = (
    "no GitLab application is configured: create one in GitLab (User settings > Applications, "
    "scope api, redirect URI {uri}) and run `oore gitlab connect`"
)
NOT_CONNECTED = "Oore is not connected to GitLab: run `oore gitlab connect`"
BAD_STATE = (
    "this GitLab sign-in link was already used, has expired (after 10 minutes) or was not "
    "issued by this Oore: run `oore gitlab connect` again"
)


@dataclass(frozen=True, slots=True)
class Status:
    gitlab_url: str
    redirect_uri: str
    application_id: str | None
    connected: bool
    username: str | None
    expires_at: str | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class GitLabConnection:
    def __init__(
        self,
        store: GitLabStore,
        sealer: Sealer,
        settings: Settings,
        *,
        margin: dt.timedelta = REFRESH_MARGIN,
        now: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.gitlab_url = settings.gitlab_url.rstrip("/")
        self.redirect_uri = settings.base_url + CALLBACK_PATH
        self.allow_private = settings.allow_private_providers
        self.margin = margin
        self.now = now
        self._refreshing = trio.Lock()

    # --- the application ---------------------------------------------------------------------

    async def set_application(self, application_id: str, secret: str) -> None:
        sealed = self.sealer.seal(secret.encode(), aad("gitlab_application", GITLAB_ROW, "secret"))
        await self.store.set_gitlab_application(SealedGitLabApplication(application_id, sealed))

    async def application(self) -> Application:
        stored = await self.store.gitlab_application()
        if stored is None:
            raise Conflict(NOT_CONFIGURED.format(uri=self.redirect_uri))
        where = aad("gitlab_application", GITLAB_ROW, "secret")
        secret = self.sealer.open(stored.secret_sealed, where).decode()
        return Application(stored.application_id, secret)

    async def status(self) -> Status:
        stored = await self.store.gitlab_application()
        connection = await self.store.gitlab_connection()
        return Status(
            self.gitlab_url,
            self.redirect_uri,
            stored.application_id if stored else None,
            connection is not None,
            connection.username if connection else None,
            connection.expires_at if connection else None,
        )

    # --- signing in --------------------------------------------------------------------------

    async def start(self) -> tuple[str, str]:
        """The URL to open in a browser to connect, and until when it works."""
        app = await self.application()
        state = secrets.token_urlsafe(32)
        expires = iso(self.now() + STATE_TTL)
        await self.store.add_gitlab_state(hash_token(state), expires)
        url = gitlab_oauth.authorize_url(self.gitlab_url, app, self.redirect_uri, state)
        return url, expires

    async def finish(self, code: str, state: str) -> str:
        """Use up `state` and trade `code` for tokens, which become the connection; answers
        the GitLab user name they act as."""
        if not await self.store.take_gitlab_state(hash_token(state), iso(self.now())):
            raise BadRequest(BAD_STATE)
        app = await self.application()
        async with self._refreshing, self._client() as http:
            grant = await gitlab_oauth.exchange_code(
                http, self.gitlab_url, app, self.redirect_uri, code
            )
            username = await gitlab_oauth.username(http, self.gitlab_url, grant.access_token)
            await self._store(grant, username)
        log.info("connected to GitLab at %s as %s", self.gitlab_url, username)
        return username

    async def refuse(self, state: str) -> None:
        """Use up `state` of a sign-in GitLab reports as failed (the user said no)."""
        if not await self.store.take_gitlab_state(hash_token(state), iso(self.now())):
            raise BadRequest(BAD_STATE)

    # --- tokens ------------------------------------------------------------------------------

    async def access_token(self) -> str:
        """A current access token, refreshed first when it expires within the margin."""
        connection = await self._connection()
        if not self._expiring(connection):
            return self._open(connection, "access_token")
        async with self._refreshing:
            # Another task may have refreshed while this one waited for the lock.
            connection = await self._connection()
            if self._expiring(connection):
                connection = await self._refresh(connection)
            return self._open(connection, "access_token")

    async def refreshed_after(self, rejected: str) -> str:
        """A new access token after GitLab refused `rejected` (revoked, or expired early)."""
        async with self._refreshing:
            connection = await self._connection()
            current = self._open(connection, "access_token")
            if current != rejected:
                return current
            return self._open(await self._refresh(connection), "access_token")

    async def _refresh(self, connection: SealedGitLabConnection) -> SealedGitLabConnection:
        app = await self.application()
        deadline = trio.current_time() + REFRESH_SECONDS
        with trio.CancelScope(shield=True, deadline=deadline):
            async with self._client() as http:
                grant = await gitlab_oauth.refresh(
                    http,
                    self.gitlab_url,
                    app,
                    self.redirect_uri,
                    self._open(connection, "refresh_token"),
                )
            log.info("refreshed the GitLab access token (valid until %s)", iso(grant.expires_at))
            return await self._store(grant, connection.username)
        # Only the deadline leaves the scope without a return.
        raise Unavailable(
            f"GitLab did not answer the token refresh within {REFRESH_SECONDS:.0f} seconds; "
            "try again, or run `oore gitlab connect` if it keeps failing"
        )

    async def _store(self, grant: TokenGrant, username: str | None) -> SealedGitLabConnection:
        connection = SealedGitLabConnection(
            self.sealer.seal(grant.access_token.encode(), _where("access_token")),
            self.sealer.seal(grant.refresh_token.encode(), _where("refresh_token")),
            iso(grant.expires_at),
            username,
        )
        await self.store.set_gitlab_connection(connection)
        return connection

    async def _connection(self) -> SealedGitLabConnection:
        connection = await self.store.gitlab_connection()
        if connection is None:
            raise Conflict(NOT_CONNECTED)
        return connection

    def _expiring(self, connection: SealedGitLabConnection) -> bool:
        return parse_iso(connection.expires_at) - self.now() <= self.margin

    def _open(self, connection: SealedGitLabConnection, column: str) -> str:
        blob = getattr(connection, f"{column}_sealed")
        return self.sealer.open(blob, _where(column)).decode()

    def _client(self) -> httpx.AsyncClient:
        return provider_client(allow_private=self.allow_private)


def _where(column: str) -> bytes:
    return aad("gitlab_connection", GITLAB_ROW, column)
