"""GitHub commit statuses, with the repository's own HTTPS token (no GitHub App).

https://docs.github.com/en/rest/commits/statuses#create-a-commit-status: one status per
workflow, context `oore/<workflow>`, on the built commit; queued and started are `pending`,
succeeded `success`, failed and timed out `failure`, errored and cancelled `error` (GitHub has
four states; a skipped build is reported as `success`, since nothing in it failed). Each event
is a new status (GitHub keeps the latest per context), so no earlier answer is needed.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from oore.crypto import Sealer
from oore.notify.base import Delivery, Sent
from oore.notify.github_checks import HEADERS, Repositories, repository_of
from oore.notify.repo_token import Credentials, repository_token
from oore.notify.report import Report
from oore.notify.sending import Request, Sender, failure, json_object, with_token

NAME = "GitHub"
STATES = {
    "queued": "pending",
    "started": "pending",
    "succeeded": "success",
    "skipped": "success",
    "failed": "failure",
    "timed_out": "failure",
    "errored": "error",
    "cancelled": "error",
}
MAX_DESCRIPTION = 140  # GitHub refuses a longer description


class GitHubRepositoryStore(Repositories, Credentials, Protocol):
    pass


class GithubStatusChannel:
    kind: ClassVar[str] = "github_status"

    def __init__(
        self,
        store: GitHubRepositoryStore,
        sealer: Sealer,
        sender: Sender,
        *,
        api_url: str,
        github_url: str,
        base_url: str,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.sender = sender
        self.api_url = api_url.rstrip("/")
        self.github_url = github_url
        self.base_url = base_url

    async def send(self, delivery: Delivery) -> Sent:
        report = Report(delivery.payload, self.base_url)
        repo = await repository_of(self.store, report)
        token = await repository_token(self.store, self.sealer, repo, self.github_url)
        url = f"{self.api_url}/repos/{repo.owner}/{repo.name}/statuses/{report.sha}"
        headers = {**HEADERS, "Idempotency-Key": delivery.idempotency_key}
        request = Request("POST", url, headers, status_body(report, delivery.event))
        response = await self.sender.send(NAME, with_token(request, token))
        if not response.is_success:
            raise failure(NAME, "set the commit status", response)
        status_id = json_object(response).get("id")
        return Sent(ref=str(status_id) if status_id is not None else None)


def status_body(report: Report, event: str) -> dict[str, str]:
    return {
        "state": STATES.get(event, "error"),
        "context": f"oore/{report.workflow}",
        "target_url": report.build_url,
        "description": description(report),
    }


def description(report: Report) -> str:
    """`Build #12 succeeded in 2m 05s`, cut to what GitHub takes."""
    text = f"Build {report.number} {report.word}".replace("  ", " ")
    if report.event not in {"queued", "started"} and report.duration != "-":
        text += f" in {report.duration}"
    return text[:MAX_DESCRIPTION]
