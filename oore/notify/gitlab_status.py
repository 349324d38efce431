"""GitLab commit statuses (https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit).

One status per workflow, `name = oore/<workflow>`, on the built commit: queued is `pending`,
started `running`, then `success`, `failed` (failed, timed out, errored), `canceled` or
`skipped`. The token is the GitLab OAuth connection's for a project enabled through it
(refreshed once when GitLab refuses it), else the repository's own HTTPS token. The project is
named by its id when known, else by its URL-encoded path, which GitLab takes as well.

GitLab answers 400 "Cannot transition status via :run from :running" to a status the commit
already has: after an at-least-once resend that is the state wanted, so it counts as sent.
"""

from __future__ import annotations

from typing import ClassVar, Protocol
from urllib.parse import quote

from oore.crypto import Sealer
from oore.errors import Conflict, CryptoError, OoreError
from oore.model import Repository
from oore.notify.base import Delivery, DeliveryFailed, Sent
from oore.notify.github_checks import Repositories, repository_of
from oore.notify.repo_token import Credentials, repository_token
from oore.notify.report import Report
from oore.notify.sending import Request, Sender, failure, json_object, with_token
from oore.providers.gitlab_connection import GitLabConnection
from oore.store.base import GitLabProjectLink

NAME = "GitLab"
STATES = {
    "queued": "pending",
    "started": "running",
    "succeeded": "success",
    "failed": "failed",
    "timed_out": "failed",
    "errored": "failed",
    "cancelled": "canceled",
    "skipped": "skipped",
}
ALREADY = "Cannot transition status"
MAX_DESCRIPTION = 255


class GitLabRepositoryStore(Repositories, Credentials, Protocol):
    async def gitlab_project_link(self, repository_id: str) -> GitLabProjectLink | None: ...


class GitLabStatusChannel:
    kind: ClassVar[str] = "gitlab_status"

    def __init__(
        self,
        store: GitLabRepositoryStore,
        sealer: Sealer,
        connection: GitLabConnection,
        sender: Sender,
        *,
        base_url: str,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.connection = connection
        self.sender = sender
        self.base_url = base_url

    async def send(self, delivery: Delivery) -> Sent:
        report = Report(delivery.payload, self.base_url)
        repo = await repository_of(self.store, report)
        link = await self.store.gitlab_project_link(repo.id)
        project = _project(repo, link)
        url = f"{self.connection.gitlab_url}/api/v4/projects/{project}/statuses/{report.sha}"
        headers = {"Idempotency-Key": delivery.idempotency_key}
        request = Request("POST", url, headers, status_body(report, delivery.event))
        oauth = link is not None and await self._connected()
        token = await self._token(repo, oauth)
        response = await self.sender.send(NAME, with_token(request, token))
        if response.status_code == 401 and oauth:
            token = await self._refreshed(token)
            response = await self.sender.send(NAME, with_token(request, token))
        if response.status_code == 400 and ALREADY in response.text:
            return Sent()
        if not response.is_success:
            raise failure(NAME, "set the commit status", response)
        status_id = json_object(response).get("id")
        return Sent(ref=str(status_id) if status_id is not None else None)

    async def _connected(self) -> bool:
        return (await self.connection.status()).connected

    async def _token(self, repo: Repository, oauth: bool) -> str:
        if not oauth:
            return await repository_token(self.store, self.sealer, repo, self.connection.gitlab_url)
        try:
            return await self.connection.access_token()
        except (Conflict, CryptoError) as exc:
            raise DeliveryFailed(str(exc), permanent=True) from None
        except OoreError as exc:
            raise DeliveryFailed(f"no GitLab access token: {exc}") from None

    async def _refreshed(self, rejected: str) -> str:
        try:
            return await self.connection.refreshed_after(rejected)
        except OoreError as exc:
            raise DeliveryFailed(
                f"GitLab refused the access token and its refresh: {exc}"
            ) from None


def _project(repo: Repository, link: GitLabProjectLink | None) -> str:
    if link is not None:
        return str(link.project_id)
    if repo.gitlab_project_id is not None:
        return str(repo.gitlab_project_id)
    return quote(f"{repo.owner}/{repo.name}", safe="")


def status_body(report: Report, event: str) -> dict[str, str]:
    body = {
        "state": STATES.get(event, "failed"),
        "name": f"oore/{report.workflow}",
        "target_url": report.build_url,
        "description": f"Build {report.number} {report.word}"[:MAX_DESCRIPTION],
    }
    branch = report.trigger.get("branch")
    if isinstance(branch, str) and branch:
        body["ref"] = branch
    return body
