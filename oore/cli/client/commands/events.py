"""`oore events list|show|reprocess`: the webhook deliveries the server stored."""

from __future__ import annotations

import json
from typing import Any

import asyncclick as click

from oore.cli.client.commands.common import build_label, repo_id
from oore.cli.client.session import Session, pass_session


@click.group()
def events() -> None:
    """Inspect stored webhook deliveries and process one again.

    \b
    Example:
        oore events list --state failed
        oore events reprocess 01J9Z3K4M5N6P7Q8R9S0T1V2W3
    """


@events.command("list")
@click.option("--repo", "repo_ref", metavar="REPO", help="Only this repository (id or OWNER/NAME).")
@click.option("--provider", type=click.Choice(["github", "gitlab"]))
@click.option("--state", type=click.Choice(["pending", "processed", "ignored", "failed"]))
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--cursor", help="Continue a listing: the next_cursor of the previous page.")
@pass_session
async def list_events(
    session: Session,
    repo_ref: str | None,
    provider: str | None,
    state: str | None,
    limit: int,
    cursor: str | None,
) -> None:
    """List stored webhook deliveries, newest first.

    \b
    Example:
        oore events list --repo acme/app --state ignored
    """
    async with session.api() as api:
        repository = await repo_id(api, repo_ref) if repo_ref else None
        data = await api.get(
            "/api/webhooks/events",
            repository=repository,
            provider=provider,
            state=state,
            limit=limit,
            cursor=cursor,
        )
    if session.json:
        return session.out.json(data)
    from oore.cli.client.output import ago, status

    rows = [
        [
            e["id"],
            e["provider"],
            e["event_type"],
            status(e["state"]),
            ago(e["received_at"]),
            e.get("reason") or "",
        ]
        for e in data["items"]
    ]
    session.out.table(
        ["ID", "PROVIDER", "EVENT", "STATE", "RECEIVED", "REASON"],
        rows,
        shrink=["EVENT", "REASON"],  # `oore events show ID` has the whole reason
        optional=["PROVIDER"],
    )
    if data.get("next_cursor"):
        session.out.note(f"more: oore events list --cursor {data['next_cursor']} ...")


@events.command("show")
@click.argument("event_id")
@click.option("--payload", is_flag=True, help="Also print the delivery's payload.")
@pass_session
async def show_event(session: Session, event_id: str, payload: bool) -> None:
    """Show a stored delivery: its state, the reason, the builds it made and, for each
    workflow it did not run, why not.

    \b
    Example:
        oore events show 01J9Z3K4M5N6P7Q8R9S0T1V2W3 --payload
    """
    async with session.api() as api:
        found = await api.get(f"/api/webhooks/events/{event_id}")
    if session.json:
        return session.out.json(found)
    from oore.cli.client.output import ago, size, status

    session.out.fields(
        [
            ("id", found["id"]),
            ("provider", found["provider"]),
            ("event", found["event_type"]),
            ("delivery", found.get("delivery_id")),
            ("repository", found.get("repository_id")),
            ("state", status(found["state"])),
            ("reason", found.get("reason")),
            ("received", ago(found["received_at"])),
            ("processed", ago(found["processed_at"]) if found.get("processed_at") else None),
            ("size", size(found.get("size"))),
        ]
    )
    for made in found.get("builds", []):
        session.out.line(f"  {build_label(made)} {made['workflow']} ", status(made["status"]))
    _workflows(session, found.get("workflows") or [])
    if payload:
        session.out.line(json.dumps(found.get("payload"), indent=2, ensure_ascii=False))


def _workflows(session: Session, workflows: list[dict[str, Any]]) -> None:
    """Each workflow of the pipeline file: built, or why it did not match."""
    from oore.cli.client.output import status

    if workflows:
        session.out.line("workflows:")
    for found in workflows:
        if found["matched"]:
            session.out.line(f"  {found['workflow']}: ", status("succeeded", "matched"))
        else:
            session.out.line(
                f"  {found['workflow']}: ",
                status("skipped", "not matched"),
                f" ({found['reason']})",
            )


@events.command("reprocess")
@click.argument("event_id")
@pass_session
async def reprocess(session: Session, event_id: str) -> None:
    """Process a stored delivery again (after fixing the repository or pipeline, say).

    \b
    Example:
        oore events reprocess 01J9Z3K4M5N6P7Q8R9S0T1V2W3
    """
    async with session.api() as api:
        answer = await api.json("POST", f"/api/webhooks/events/{event_id}/reprocess")
    if session.json:
        return session.out.json(answer)
    session.out.line(f"event {answer['id']} queued to be processed again")


COMMANDS = (events,)
