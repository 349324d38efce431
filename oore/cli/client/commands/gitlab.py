"""`oore gitlab connect|status|projects|enable|disable`: GitLab through OAuth.

`connect` stores the OAuth application (its secret typed with hidden input or read from stdin,
never an argument), prints the sign-in URL and waits until GitLab sends the browser back to Oore.
`enable` creates the project's webhook in GitLab and registers the repository: no secret to copy.
"""

from __future__ import annotations

import sys
from typing import Any

import asyncclick as click

from oore.cli.client.commands.common import poll_until, read_secret
from oore.cli.client.errors import CliError, ExitCode, invalid
from oore.cli.client.session import Session, pass_session

POLL_SECONDS = 1.0


@click.group()
def gitlab() -> None:
    """Connect Oore to GitLab (OAuth) and enable projects: webhooks are created for you.

    \b
    Example:
        oore gitlab connect --application-id 3f1e0a7c9b2d
        oore gitlab enable acme/mobile/app
    """


@gitlab.command("connect")
@click.option(
    "--application-id",
    metavar="ID",
    help="The GitLab application's 'Application ID'; its secret is asked for (or read from "
    "stdin). Without it, the application already stored is used.",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until the sign-in finishes in the browser.",
)
@click.option(
    "--timeout",
    "patience",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Seconds to wait for the sign-in.",
)
@pass_session
async def connect(
    session: Session, application_id: str | None, wait: bool, patience: float
) -> None:
    """Sign Oore in to GitLab: prints the URL to open, then waits for GitLab to send you back.

    First create an application in GitLab (User settings > Applications, or an instance-wide
    one under Admin > Applications) with the scope `api` and the redirect URI that
    `oore gitlab status` shows. Without a stored application and without --application-id,
    the ID and then the secret are asked for (two lines of stdin when that is not a terminal).

    \b
    Example:
        oore gitlab connect --application-id 3f1e0a7c9b2d
        oore gitlab connect --application-id 3f1e0a7c9b2d --no-wait < app-secret.txt
    """
    async with session.api() as api:
        before = await api.get("/api/gitlab")
        if application_id or before["application_id"] is None:
            await _store_application(api, application_id)
        started = await api.get("/api/gitlab/authorize")
        if session.json and not wait:
            return session.out.json(started)
        session.out.line(started["url"])
        if not wait:
            return session.out.note("open the URL above to connect (it works once, 10 minutes)")
        session.out.note("open the URL above in a browser; waiting for GitLab to send you back")
        status = await _connected(api, before, patience)
    if session.json:
        return session.out.json(status)
    session.out.line(f"connected to {status['gitlab_url']} as {status['username']}")


async def _store_application(api: Any, application_id: str | None) -> None:
    if not application_id:
        application_id = await _read_line("GitLab application ID")
    secret = await read_secret("GitLab application secret")
    if not application_id or not secret:
        raise invalid("the application ID and secret are both needed")
    body = {"application_id": application_id, "secret": secret}
    await api.json("PUT", "/api/gitlab/application", body=body)


async def _read_line(prompt: str) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    value: str = await click.prompt(prompt)
    return value.strip()


async def _connected(api: Any, before: dict[str, Any], patience: float) -> dict[str, Any]:
    # A new connection is told from the old by its token's expiry, which every sign-in renews.
    async def renewed() -> dict[str, Any] | None:
        status: dict[str, Any] = await api.get("/api/gitlab")
        return (
            status if status["connected"] and status["expires_at"] != before["expires_at"] else None
        )

    failure = f"not connected after {patience:g} s; run `oore gitlab connect` again"
    return await poll_until(renewed, patience, POLL_SECONDS, failure)


@gitlab.command("status")
@pass_session
async def status(session: Session) -> None:
    """Show the GitLab Oore talks to, its application and whom it is connected as.

    \b
    Example:
        oore gitlab status
    """
    async with session.api() as api:
        data = await api.get("/api/gitlab")
    if session.json:
        return session.out.json(data)
    session.out.fields(
        [
            ("gitlab", data["gitlab_url"]),
            ("redirect uri", data["redirect_uri"]),
            ("application", data["application_id"] or "none (run `oore gitlab connect`)"),
            ("connected as", data["username"] if data["connected"] else "not connected"),
        ]
    )


@gitlab.command("projects")
@pass_session
async def projects(session: Session) -> None:
    """List the GitLab projects you maintain, and which are enabled in Oore.

    \b
    Example:
        oore gitlab projects
    """
    async with session.api() as api:
        data = await api.get("/api/gitlab/projects")
    if session.json:
        return session.out.json(data)
    rows = [
        [str(p["id"]), p["path_with_namespace"], "enabled" if p["enabled"] else "-"]
        for p in data["items"]
    ]
    session.out.table(["ID", "PROJECT", "OORE"], rows, shrink=["PROJECT"])


@gitlab.command("enable")
@click.argument("project", metavar="GROUP/PROJECT")
@pass_session
async def enable(session: Session, project: str) -> None:
    """Create the project's webhook in GitLab and register its repository in Oore.

    Enabling a project again replaces its webhook (and the webhook's token).

    \b
    Example:
        oore gitlab enable acme/mobile/app
    """
    async with session.api() as api:
        found = await _project(api, project)
        data = await api.json("POST", f"/api/gitlab/projects/{found['id']}/enable")
    if session.json:
        return session.out.json(data)
    repo = data["repository"]
    session.out.line(f"enabled {found['path_with_namespace']}: repository {repo['id']}")
    session.out.note(
        f"GitLab now delivers pushes, tags and merge requests to {repo['webhook_url']}"
    )


@gitlab.command("disable")
@click.argument("project", metavar="GROUP/PROJECT")
@pass_session
async def disable(session: Session, project: str) -> None:
    """Delete the project's webhook in GitLab and deactivate its repository (builds are kept).

    \b
    Example:
        oore gitlab disable acme/mobile/app
    """
    async with session.api() as api:
        found = await _project(api, project)
        data = await api.json("POST", f"/api/gitlab/projects/{found['id']}/disable")
    if session.json:
        return session.out.json(data)
    session.out.line(f"disabled {found['path_with_namespace']}; its webhook was deleted")


async def _project(api: Any, ref: str) -> dict[str, Any]:
    """The project named by its path (or its numeric id), among those the user maintains."""
    items = (await api.get("/api/gitlab/projects"))["items"]
    for item in items:
        if item["path_with_namespace"].lower() == ref.strip("/").lower() or str(item["id"]) == ref:
            return dict(item)
    raise CliError(
        f"not found: no GitLab project {ref} that you maintain (see `oore gitlab projects`)",
        ExitCode.NOT_FOUND,
    )


COMMANDS = (gitlab,)
