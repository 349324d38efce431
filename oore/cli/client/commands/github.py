"""`oore github setup|installations|add`: the GitHub App, made with GitHub's manifest flow.

GitHub only takes a manifest as a form posted by the browser, so `setup` writes a page (readable
only by you) that posts it when opened, prints where it is and the URL it posts to, and waits
until GitHub has sent the browser back to Oore. No secret passes through the command: GitHub
hands the app's credentials to the daemon, which stores them sealed.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import asyncclick as click

from oore.cli.client.commands.common import poll_until
from oore.cli.client.errors import CliError, ExitCode
from oore.cli.client.session import Session, pass_session

POLL_SECONDS = 1.0
FORM_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Oore: create the GitHub App</title></head>
<body onload="document.forms[0].submit()">
<form action="{url}" method="post">
<input type="hidden" name="manifest" value="{manifest}">
<p>Sending the app's manifest to GitHub... <button type="submit">Continue</button></p>
</form></body></html>
"""


@click.group()
def github() -> None:
    """Connect Oore to GitHub with a GitHub App: webhooks and tokens without copying secrets.

    \b
    Example:
        oore github setup --org acme
        oore github installations
        oore github add 1234567 987654321
    """


@github.command("setup")
@click.option("--name", help="The app's name on GitHub (unique on GitHub; at most 34 characters).")
@click.option("--org", "organization", metavar="LOGIN", help="Make the app for an organization.")
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Wait until GitHub sends you back."
)
@click.option(
    "--timeout",
    "patience",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Seconds to wait (the link works for 10 minutes).",
)
@pass_session
async def setup(
    session: Session, name: str | None, organization: str | None, wait: bool, patience: float
) -> None:
    """Make Oore's GitHub App: open the page this prints, confirm on GitHub, then install it.

    GitHub must be able to reach this server's base URL (OORE_BASE_URL) for the app's
    webhook; the browser must reach it for the way back.

    \b
    Example:
        oore github setup
        oore github setup --org acme --name "Oore acme"
    """
    body = {k: v for k, v in (("name", name), ("organization", organization)) if v}
    async with session.api() as api:
        before = await _app(api)
        started = await api.json("POST", "/api/github/manifest", body=body)
        page = await _to_thread(_write_page, started)
        if session.json and not wait:
            return session.out.json(started | {"page": str(page)})
        session.out.line(page.as_uri())
        session.out.note(
            "open the page above in a browser on this machine: it posts the app's manifest to "
            f"{started['url'].split('?')[0]} (it works once, for 10 minutes)"
        )
        if not wait:
            return None
        app = await _created(api, before, patience)
    if session.json:
        return session.out.json(app)
    session.out.line(f"GitHub App {app['name']} ({app['app_id']}) is set up")
    session.out.note(f"now install it on your repositories: {app['install_url']}")


async def _to_thread(function: Any, *args: Any) -> Any:
    import trio

    return await trio.to_thread.run_sync(function, *args)


def _write_page(started: dict[str, Any]) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="oore-github-"))  # 0700
    page = folder / "create-github-app.html"
    text = FORM_PAGE.format(
        url=html.escape(started["url"]), manifest=html.escape(json.dumps(started["manifest"]))
    )
    descriptor = os.open(page, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    return page


async def _app(api: Any) -> dict[str, Any] | None:
    """The app the server has (None: none yet)."""
    try:
        found: dict[str, Any] = await api.get("/api/github/app")
    except CliError as exc:
        if exc.code is ExitCode.NOT_FOUND:
            return None
        raise
    return found


async def _created(api: Any, before: dict[str, Any] | None, patience: float) -> dict[str, Any]:
    async def made() -> dict[str, Any] | None:
        app = await _app(api)
        return app if app is not None and app != before else None

    failure = f"no GitHub App was made within {patience:g} s; run `oore github setup` again"
    return await poll_until(made, patience, POLL_SECONDS, failure)


@github.command("installations")
@pass_session
async def installations(session: Session) -> None:
    """List where the app is installed and the repositories each installation covers.

    \b
    Example:
        oore github installations
    """
    async with session.api() as api:
        data = await api.get("/api/github/installations")
    if session.json:
        return session.out.json(data)
    rows = [
        [
            str(i["id"]),
            i["account"] + (" (suspended)" if i["suspended"] else ""),
            r["full_name"],
            str(r["id"]),
            "private" if r["private"] else "public",
            r["repository_id"] or "-",
        ]
        for i in data["items"]
        for r in i["repositories"]
    ]
    session.out.table(
        ["INSTALLATION", "ACCOUNT", "REPOSITORY", "GITHUB ID", "VISIBILITY", "OORE ID"],
        rows,
        shrink=["ACCOUNT", "REPOSITORY"],
        optional=["VISIBILITY"],
    )
    if not rows:
        session.out.note("no installations yet: install the app (see `oore github setup`)")


@github.command("add")
@click.argument("installation_id", type=click.IntRange(min=1))
@click.argument("github_repo_id", type=click.IntRange(min=1))
@pass_session
async def add(session: Session, installation_id: int, github_repo_id: int) -> None:
    """Register a repository an installation covers (ids from `oore github installations`).

    \b
    Example:
        oore github add 1234567 987654321
    """
    body = {
        "provider": "github",
        "installation_id": installation_id,
        "github_repo_id": github_repo_id,
    }
    async with session.api() as api:
        created = await api.json("POST", "/api/repositories", body=body)
    if session.json:
        return session.out.json(created)
    session.out.line(created["id"])
    session.out.note(f"registered {created['full_name']}; pushes to it now build")


COMMANDS = (github,)
