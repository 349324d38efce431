"""The check-runs and commit-statuses API of the fake GitHub (tests/fakes/github.py).

As GitHub documents them (https://docs.github.com/en/rest/checks/runs,
https://docs.github.com/en/rest/commits/statuses) and checked as GitHub checks them:
- `POST /repos/{owner}/{repo}/check-runs` needs `name` and a 40-hex `head_sha`, a valid
  `status`, a `conclusion` when completed; answers 201 with the run. `PATCH
  .../check-runs/{id}` updates it (404 for an unknown run). Only an installation token of an
  installation that covers the repository may (401 with no valid token, 404 otherwise).
  `GET .../commits/{ref}/check-runs` lists a commit's runs, newest first (`check_name` narrows
  them to a name, `app_id` to an app's; `per_page`, at most 100, and `page`) as
  `{"total_count", "check_runs"}`.
- `POST /repos/{owner}/{repo}/statuses/{sha}`: `state` one of error, failure, pending,
  success; a description of at most 140 characters; a personal token in `pats`, or an
  installation token covering the repository.
Each request is recorded (`check_calls`, `status_calls`) with its body, its `Idempotency-Key`
and the token it came with; `refuse_next` answers the next requests with the given status and
headers instead (429 with Retry-After, 500, or 403 with `X-RateLimit-Remaining: 0`; see
tests/fakes/recording.py). `hold_creates`, when given, makes each created run wait for it
before GitHub's answer goes out (`holding` is set meanwhile): a client that dies then has
made a run it never learned the id of.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from typing import Any

import trio
from quart import Response, request

from tests.fakes.recording import Recording, json_response

SHA = re.compile(r"^[0-9a-f]{40}$")
CHECK_STATUSES = ("queued", "in_progress", "completed")
CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)
STATUS_STATES = ("error", "failure", "pending", "success")
STAMP = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any]
    key: str | None  # its Idempotency-Key
    token: str  # the bearer token it came with
    status: int  # what the fake answered


@dataclass
class ChecksApi(Recording):
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> current run
    check_calls: list[Call] = field(default_factory=list)
    status_calls: list[Call] = field(default_factory=list)
    pats: set[str] = field(default_factory=set)  # personal tokens allowed to set statuses
    hold_creates: trio.Event | None = None
    holding: trio.Event = field(default_factory=trio.Event)

    def add_check_routes(self, app: Any) -> None:
        app.add_url_rule(
            "/repos/<owner>/<name>/check-runs", view_func=self._create_run, methods=["POST"]
        )
        app.add_url_rule(
            "/repos/<owner>/<name>/check-runs/<int:run_id>",
            view_func=self._update_run,
            methods=["PATCH"],
        )
        app.add_url_rule(
            "/repos/<owner>/<name>/commits/<ref>/check-runs",
            view_func=self._list_runs,
            methods=["GET"],
        )
        app.add_url_rule(
            "/repos/<owner>/<name>/statuses/<sha>", view_func=self._status, methods=["POST"]
        )

    def runs_of(self, name: str) -> list[dict[str, Any]]:
        return [run for run in self.check_runs.values() if run["name"] == name]

    # --- the handlers -------------------------------------------------------------------------

    async def _create_run(self, owner: str, name: str) -> Response:
        body = await request.get_json(force=True, silent=True) or {}
        problem = self._check_problem(body, creating=True)
        answer = self._refused(owner, name, checks=True) or problem
        if answer is None:
            run_id = 7000 + len(self.check_runs) + 1
            self.check_runs[run_id] = _run(run_id, body)
            issued = self._live_installation_token(_bearer())
            self.check_runs[run_id]["app"]["id"] = issued.app_id  # the App whose token made it
            answer = json_response(201, self.check_runs[run_id])
            if self.hold_creates is not None:
                self.holding.set()
                await self.hold_creates.wait()
        return self._record_call(self.check_calls, body, answer)

    async def _update_run(self, owner: str, name: str, run_id: int) -> Response:
        body = await request.get_json(force=True, silent=True) or {}
        answer = self._refused(owner, name, checks=True) or self._check_problem(body)
        if answer is None and run_id not in self.check_runs:
            answer = github_error(404, "Not Found")
        if answer is None:
            run = self.check_runs[run_id]
            run.update({k: v for k, v in body.items() if k != "output"})
            run["output"] = {**run["output"], **body.get("output", {})}
            answer = json_response(200, run)
        return self._record_call(self.check_calls, body, answer)

    async def _list_runs(self, owner: str, name: str, ref: str) -> Response:
        answer = self._refused(owner, name, checks=True)
        if answer is None:
            wanted = request.args.get("check_name")
            app = request.args.get("app_id")
            runs = [
                run
                for run in reversed(self.check_runs.values())  # newest first
                if run["head_sha"] == ref
                and wanted in (None, run["name"])
                and app in (None, str(run["app"]["id"]))
            ]
            size = min(int(request.args.get("per_page", 30)), 100)
            first = (int(request.args.get("page", 1)) - 1) * size
            page = runs[first : first + size]
            answer = json_response(200, {"total_count": len(runs), "check_runs": page})
        return self._record_call(self.check_calls, {}, answer)

    async def _status(self, owner: str, name: str, sha: str) -> Response:
        body = await request.get_json(force=True, silent=True) or {}
        answer = self._refused(owner, name, checks=False)
        if answer is None and body.get("state") not in STATUS_STATES:
            answer = github_error(422, "Validation Failed: state")
        if answer is None and len(str(body.get("description") or "")) > 140:
            answer = github_error(422, "Validation Failed: description is too long")
        if answer is None and not SHA.match(sha):
            answer = github_error(422, f"No commit found for SHA: {sha}")
        if answer is None:
            status_id = 9000 + len(self.status_calls) + 1
            answer = json_response(
                201, {"id": status_id, "url": request.path, "created_at": STAMP, **body}
            )
        return self._record_call(self.status_calls, body, answer)

    # --- checks -------------------------------------------------------------------------------

    def _refused(self, owner: str, name: str, *, checks: bool) -> Response | None:
        refusal = self.refusal()
        if refusal is not None:
            status, headers = refusal
            return json_response(status, {"message": "refused by the test"}, headers)
        token = _bearer()
        if not checks and any(hmac.compare_digest(token, pat) for pat in self.pats):
            return None
        issued = self._live_installation_token(token)
        if issued is None:
            return github_error(401, "Bad credentials")
        covered = self._covered_ids(issued)
        if not any(r.full_name == f"{owner}/{name}" for r in self._repos_with(covered)):
            return github_error(404, "Not Found")
        return None

    def _check_problem(self, body: dict[str, Any], *, creating: bool = False) -> Response | None:
        if creating and (not body.get("name") or not SHA.match(str(body.get("head_sha")))):
            return github_error(422, "Validation Failed: name and a head_sha are required")
        status = body.get("status")
        if status is not None and status not in CHECK_STATUSES:
            return github_error(422, f"Validation Failed: status {status}")
        conclusion = body.get("conclusion")
        if status == "completed" and conclusion not in CONCLUSIONS:
            return github_error(422, "Validation Failed: conclusion is required when completed")
        output = body.get("output")
        if output is not None and (not output.get("title") or not output.get("summary")):
            return github_error(422, "Validation Failed: output needs a title and a summary")
        return None

    def _record_call(self, calls: list[Call], body: dict[str, Any], answer: Response) -> Response:
        key = request.headers.get("Idempotency-Key")
        calls.append(Call(request.method, request.path, body, key, _bearer(), answer.status_code))
        return answer

    # Provided by FakeGitHub.
    def _live_installation_token(self, token: str) -> Any:
        raise NotImplementedError

    def _covered_ids(self, issued: Any) -> set[int]:
        raise NotImplementedError

    def _repos_with(self, ids: set[int]) -> list[Any]:
        raise NotImplementedError


def _run(run_id: int, body: dict[str, Any]) -> dict[str, Any]:
    output = {"title": None, "summary": None, "text": None, "annotations_count": 0}
    return {
        "id": run_id,
        "node_id": f"CR_{run_id}",
        "name": body["name"],
        "head_sha": body["head_sha"],
        "external_id": body.get("external_id", ""),
        "details_url": body.get("details_url"),
        "status": body.get("status", "queued"),
        "conclusion": body.get("conclusion"),
        "started_at": body.get("started_at", STAMP),
        "completed_at": body.get("completed_at"),
        "output": {**output, **body.get("output", {})},
        "check_suite": {"id": 5000},
        "app": {"id": 1, "slug": "oore"},
        "url": f"/repos/check-runs/{run_id}",
    }


def _bearer() -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() in {"bearer", "token"} else ""


def github_error(status: int, message: str) -> Response:
    """An error as GitHub's REST API answers one."""
    return json_response(
        status, {"message": message, "documentation_url": "https://docs.github.com"}
    )
