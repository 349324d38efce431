"""`oore build list|show|steps|artifacts` and the group the other build commands join."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncclick as click

from oore.cli.client.commands import build_runs
from oore.cli.client.commands.common import (
    build_label,
    find_build,
    ref_of,
    repo_id,
    repository_names,
)
from oore.cli.client.session import Session, pass_session

if TYPE_CHECKING:
    from oore.cli.client.output import Output

STATUSES = (
    *("queued", "preparing", "running", "succeeded", "failed"),
    *("cancelled", "timed_out", "skipped", "errored"),
)


@click.group()
def build() -> None:
    """Start, follow and inspect builds; fetch their logs and artifacts.

    A BUILD is named by its id, by its number when only one repository has that number (19),
    or by repository and number (acme/app#19).

    \b
    Example:
        oore build trigger acme/app -w release --wait
        oore build list --repo acme/app --status failed
    """


@build.command("list")
@click.option("--repo", "repo_ref", metavar="REPO", help="Only this repository (id or OWNER/NAME).")
@click.option("--status", type=click.Choice(STATUSES), help="Only builds in this status.")
@click.option("--branch", help="Only builds of this branch.")
@click.option("--workflow", help="Only builds of this workflow.")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--cursor", help="Continue a listing: the next_cursor of the previous page.")
@pass_session
async def list_builds(
    session: Session,
    repo_ref: str | None,
    status: str | None,
    branch: str | None,
    workflow: str | None,
    limit: int,
    cursor: str | None,
) -> None:
    """List builds, newest first.

    \b
    Example:
        oore build list --repo acme/app --branch main --limit 5
        oore --json build list --status failed | jq -r '.items[].id'
    """
    async with session.api() as api:
        repository = await repo_id(api, repo_ref) if repo_ref else None
        data = await api.get(
            "/api/builds",
            repository=repository,
            status=status,
            branch=branch,
            workflow=workflow,
            limit=limit,
            cursor=cursor,
        )
        names = {} if session.json else await repository_names(api)
    if session.json:
        return session.out.json(data)
    _build_table(session.out, data["items"], names, one_repository=repository is not None)
    if data.get("next_cursor"):
        session.out.note(f"more: oore build list --cursor {data['next_cursor']} ...")


def _build_table(
    out: Output, builds: list[dict[str, Any]], names: dict[str, str], *, one_repository: bool
) -> None:
    from oore.cli.client.output import ago, duration, elapsed, short, status

    rows = [
        [
            str(b["number"]),
            b["id"],
            names.get(b["repository_id"], b["repository_id"]),
            b["workflow"],
            ref_of(b),
            short(b.get("sha"), 8),
            status(b["status"]),
            ago(b["created_at"]),
            duration(elapsed(b.get("started_at"), b.get("finished_at"))),
        ]
        for b in builds
    ]
    headers = ["#", "ID", "REPOSITORY", "WORKFLOW", "REF", "SHA", "STATUS", "CREATED", "TOOK"]
    if one_repository:  # named by --repo: the room goes to the names that differ
        headers.pop(2)
        rows = [row[:2] + row[3:] for row in rows]
    # The id goes first when the terminal is narrow: REPOSITORY and # name the build too.
    shrink = ["REPOSITORY", "WORKFLOW", "REF"] if not one_repository else ["WORKFLOW", "REF"]
    out.table(headers, rows, shrink=shrink, optional=["ID"])


@build.command("show")
@click.argument("build_id", metavar="BUILD")
@pass_session
async def show_build(session: Session, build_id: str) -> None:
    """Show a build with its steps.

    \b
    Example:
        oore build show acme/app#19
    """
    async with session.api() as api:
        build_id = await find_build(api, build_id)
        found = await api.get(f"/api/builds/{build_id}")
        names = {} if session.json else await repository_names(api)
    if session.json:
        return session.out.json(found)
    from oore.cli.client.output import ago, duration, elapsed, status

    position = found.get("queue_position")
    session.out.fields(
        [
            ("build", build_label(found)),
            ("status", status(found["status"])),
            ("reason", found.get("reason") or found.get("queue_reason")),
            ("queue position", str(position) if position else None),
            ("repository", names.get(found["repository_id"], found["repository_id"])),
            ("workflow", found["workflow"]),
            ("ref", ref_of(found)),
            ("commit", found.get("sha")),
            ("trigger", found.get("kind")),
            ("attempt", str(found["attempt"]) if found["attempt"] > 1 else None),
            ("retry of", found.get("retry_of")),
            ("cancelled by", _cancelled_by(found)),
            ("created", ago(found["created_at"])),
            ("started", ago(found["started_at"]) if found.get("started_at") else None),
            ("took", duration(elapsed(found.get("started_at"), found.get("finished_at")))),
            ("log", _expired(found.get("log_expired_at"))),
            ("artifacts", _expired(found.get("artifacts_expired_at"))),
        ]
    )
    if found.get("steps"):
        session.out.line("")
        _step_table(session.out, found["steps"])


def _expired(when: str | None) -> str | None:
    """What `show` says of a log or artifacts retention removed (None: still kept)."""
    from oore.cli.client.output import ago

    return None if not when else f"expired {ago(when)} (retention)"


def _cancelled_by(found: dict[str, Any]) -> str | None:
    newer = found.get("cancelled_by")
    return None if not newer else f"#{newer['number']} ({newer['id']})"


@build.command("steps")
@click.argument("build_id", metavar="BUILD")
@pass_session
async def steps(session: Session, build_id: str) -> None:
    """List a build's steps with their status, exit code and duration.

    \b
    Example:
        oore build steps 01J9Z3K4M5N6P7Q8R9S0T1V2W3
    """
    async with session.api() as api:
        build_id = await find_build(api, build_id)
        data = await api.get(f"/api/builds/{build_id}/steps")
    if session.json:
        return session.out.json(data)
    _step_table(session.out, data["items"])


def _step_table(out: Output, items: list[dict[str, Any]]) -> None:
    from oore.cli.client.output import duration, elapsed, status

    rows = [
        [
            str(s.get("number", s["index"] + 1)),  # as the log's "==> [1] name" headers say
            s["name"],
            status(s["status"]),
            "-" if s.get("exit_code") is None else str(s["exit_code"]),
            duration(elapsed(s.get("started_at"), s.get("finished_at"))),
            s.get("reason") or "",
        ]
        for s in items
    ]
    out.table(["#", "STEP", "STATUS", "EXIT", "TOOK", "REASON"], rows, shrink=["STEP", "REASON"])


@build.command("artifacts")
@click.argument("build_id", metavar="BUILD")
@pass_session
async def artifacts(session: Session, build_id: str) -> None:
    """List a build's artifacts (download one with `oore build download ARTIFACT_ID`).

    \b
    Example:
        oore build artifacts 01J9Z3K4M5N6P7Q8R9S0T1V2W3
    """
    async with session.api() as api:
        build_id = await find_build(api, build_id)
        data = await api.get(f"/api/builds/{build_id}/artifacts")
    if session.json:
        return session.out.json(data)
    from oore.cli.client.output import ago, short, size

    rows = [
        [a["id"], a["name"], size(a["size"]), short(a["sha256"], 16), ago(a["created_at"])]
        for a in data["items"]
    ]
    session.out.table(["ID", "NAME", "SIZE", "SHA256", "CREATED"], rows, shrink=["NAME"])


for command in build_runs.COMMANDS:
    build.add_command(command)

COMMANDS = (build,)
