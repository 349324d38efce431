"""GitHub check runs, as the GitHub App: one per build, queued -> in_progress -> completed.

`queued` creates the run (https://docs.github.com/en/rest/checks/runs#create-a-check-run):
name = the workflow, head_sha, external_id = the build id, details_url = the build's page on
OORE_BASE_URL; its id is the delivery's `Sent.ref`, which the outbox hands to the chain's later
deliveries as `chain_ref`, so `started` and the outcome update that run (PATCH). A later event
with no run to update (the `queued` delivery went dead) creates the run in its final state.
Before creating a run that an earlier attempt may have created already (GitHub answered, then
the daemon died or the answer was lost, before the run's id was stored: any attempt but the
first of `queued`), it looks for the build's run among the commit's runs of that name, by
`external_id`, and updates it instead of making a second one.
The outcome's conclusion is GitHub's name for it (errored is `failure`: GitHub has no `error`
conclusion) and the run's output lists the steps and their durations as a Markdown table.

The token is the App's installation token for the repository's installation, used only for a
repository GitHub reported as covered by that installation (as for fetching, see
oore.providers.github_credentials): any write token may set a repository's installation id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import quote, urlencode

from oore.errors import CryptoError, NotFound, OoreError
from oore.model import Repository
from oore.notify.base import Delivery, DeliveryFailed, Sent
from oore.notify.report import Report
from oore.notify.sending import Request, Sender, failure, json_object, with_token
from oore.notify.summary import steps_markdown
from oore.providers.github_app import GithubApps

if TYPE_CHECKING:
    import httpx

NAME = "GitHub"
# https://docs.github.com/en/rest/checks/runs: the conclusions a completed run may have.
CONCLUSIONS = {
    "succeeded": "success",
    "failed": "failure",
    "errored": "failure",
    "cancelled": "cancelled",
    "timed_out": "timed_out",
    "skipped": "skipped",
}
MAX_SUMMARY = 65535  # GitHub's limit on output.summary
PAGE = 100  # runs per page of a lookup (GitHub's most)
MAX_LOOKUP_PAGES = 10  # GitHub keeps at most 1,000 runs of one name in a check suite
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class Repositories(Protocol):
    async def get_repository(self, repository_id: str) -> Repository: ...


class GithubCheckChannel:
    kind: ClassVar[str] = "github_check"

    def __init__(
        self, repositories: Repositories, apps: GithubApps, sender: Sender, *, base_url: str
    ) -> None:
        self.repositories = repositories
        self.apps = apps
        self.sender = sender
        self.base_url = base_url

    async def send(self, delivery: Delivery) -> Sent:
        report = Report(delivery.payload, self.base_url)
        repo = await repository_of(self.repositories, report)
        installation = await self._installation(repo)
        run = delivery.chain_ref
        if run is None and (delivery.attempts or delivery.event != "queued"):
            run = await self._earlier_run(installation, repo, report, delivery)
        response = await self._call(installation, self._request(repo, report, delivery, run))
        if not response.is_success:
            raise failure(NAME, "update the check run" if run else "create the check run", response)
        run_id = json_object(response).get("id")
        return Sent(ref=str(run_id) if run_id is not None else run)

    async def _call(self, installation: int, request: Request) -> httpx.Response:
        for attempt in (1, 2):
            token = await self._token(installation)
            response = await self.sender.send(NAME, with_token(request, token))
            if response.status_code == 401 and attempt == 1:
                self.apps.forget_token(installation, token)  # revoked early: one new one
                continue
            break
        return response

    async def _earlier_run(
        self, installation: int, repo: Repository, report: Report, delivery: Delivery
    ) -> str | None:
        """The id of the run an earlier attempt made for this build, if GitHub has one
        (https://docs.github.com/en/rest/checks/runs#list-check-runs-for-a-git-reference):
        page by page, up to the 1,000 runs of one name GitHub keeps per check suite."""
        sha = quote(report.sha, safe="")
        runs_url = f"{self.apps.api_url}/repos/{repo.owner}/{repo.name}/commits/{sha}/check-runs"
        external_id = _external_id(report, delivery)
        app = await self.apps.store.github_app()
        # Our App's runs only: another app's (GitHub Actions' "build" job) would fill the pages.
        ours = {"app_id": app.app_id} if app is not None else {}
        for page in range(1, MAX_LOOKUP_PAGES + 1):
            query = {"check_name": report.workflow, "filter": "all", **ours}
            query |= {"per_page": PAGE, "page": page}
            request = Request("GET", f"{runs_url}?{urlencode(query)}", HEADERS, b"")
            response = await self._call(installation, request)
            if not response.is_success:
                raise failure(NAME, "look for the build's check run", response)
            runs = json_object(response).get("check_runs")
            runs = runs if isinstance(runs, list) else []
            for run in runs:
                if (
                    isinstance(run, dict)
                    and run.get("external_id") == external_id
                    and run.get("id")
                ):
                    return str(run["id"])
            if len(runs) < PAGE:
                break
        return None

    async def _installation(self, repo: Repository) -> int:
        installation = repo.github_installation_id
        if installation is None:
            raise DeliveryFailed(
                f"repository {repo.full_name} has no GitHub App installation any more",
                permanent=True,
            )
        covered = repo.github_repo_id is not None and (
            await self.apps.store.github_installation_covers(installation, repo.github_repo_id)
        )
        if not covered:
            raise DeliveryFailed(
                f"GitHub has not reported repository {repo.full_name} as covered by installation "
                f"{installation}: no check run is made with its token (add the repository to "
                "the installation on GitHub)",
                permanent=True,
            )
        return installation

    async def _token(self, installation: int) -> str:
        try:
            return await self.apps.installation_token(installation)
        except (NotFound, CryptoError) as exc:
            raise DeliveryFailed(str(exc), permanent=True) from None
        except OoreError as exc:  # GitHub did not answer or refused for now: try again later
            raise DeliveryFailed(f"no installation token: {exc}") from None

    def _request(
        self, repo: Repository, report: Report, delivery: Delivery, run: str | None
    ) -> Request:
        runs = f"{self.apps.api_url}/repos/{repo.owner}/{repo.name}/check-runs"
        headers = {**HEADERS, "Idempotency-Key": delivery.idempotency_key}
        body = check_run(report, delivery.event)
        if run:
            return Request("PATCH", f"{runs}/{run}", headers, body)
        created = {
            "name": report.workflow,
            "head_sha": report.sha,
            "external_id": _external_id(report, delivery),
        }
        return Request("POST", runs, headers, created | body)


def _external_id(report: Report, delivery: Delivery) -> str:
    return str(report.build.get("id") or delivery.build_id)


def check_run(report: Report, event: str) -> dict[str, Any]:
    """The fields of a run that say where it stands after `event`."""
    body: dict[str, Any] = {"details_url": report.build_url}
    build = report.build
    if event == "queued":
        return body | {"status": "queued"}
    if event == "started":
        body |= {"status": "in_progress", "output": output(report)}
        return body | ({"started_at": build["started_at"]} if build.get("started_at") else {})
    body |= {
        "status": "completed",
        "conclusion": CONCLUSIONS.get(event, "neutral"),
        "output": output(report),
    }
    if build.get("finished_at"):
        body["completed_at"] = build["finished_at"]
    return body


def output(report: Report) -> dict[str, str]:
    title = f"{report.workflow} {report.word}"
    if report.event not in {"queued", "started"}:
        title += f" in {report.duration}"
    return {"title": title, "summary": steps_markdown(report)[:MAX_SUMMARY]}


async def repository_of(repositories: Repositories, report: Report) -> Repository:
    repository_id = str(report.repository.get("id") or "")
    try:
        return await repositories.get_repository(repository_id)
    except NotFound:
        raise DeliveryFailed(
            f"repository {report.full_name} was removed; its status is not reported",
            permanent=True,
        ) from None
