"""`oore notifications list|resend` and `oore notifications webhooks add|list|remove`: the
outbox of statuses, checks, Slack, email and signed webhooks, and the signed webhook targets.
A webhook secret is read from stdin (never the command line, where `ps` and the shell's history
would show it) or generated and printed once; the server never shows it again.
"""

from __future__ import annotations

import secrets

import asyncclick as click

from oore.cli.client.commands.common import find_build, read_secret, repo_id
from oore.cli.client.errors import invalid
from oore.cli.client.session import Session, pass_session

STATES = ("pending", "sending", "delivered", "dead")
KINDS = ("github_check", "github_status", "gitlab_status", "slack", "email", "webhook")
EVENTS = (
    "queued",
    "started",
    "succeeded",
    "failed",
    "cancelled",
    "timed_out",
    "skipped",
    "errored",
)
MIN_SECRET = 16


@click.group()
def notifications() -> None:
    """Follow what Oore told GitHub, GitLab, Slack, email and signed webhooks about builds.

    \b
    Example:
        oore notifications list --state dead
        oore notifications resend 01J9Z3K4M5N6P7Q8R9S0T1V2W3
        oore notifications webhooks add https://hooks.example.com/oore --event failed
    """


@notifications.command("list")
@click.option("--state", type=click.Choice(STATES))
@click.option("--build", "build_ref", metavar="BUILD", help="Only this build (id or OWNER/NAME#N).")
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--cursor", help="Continue a listing: the next_cursor of the previous page.")
@pass_session
async def list_deliveries(
    session: Session,
    state: str | None,
    build_ref: str | None,
    kind: str | None,
    limit: int,
    cursor: str | None,
) -> None:
    """List notification deliveries, newest first.

    \b
    Example:
        oore notifications list --build acme/app#19
        oore notifications list --state dead --kind webhook
    """
    async with session.api() as api:
        build = await find_build(api, build_ref) if build_ref else None
        data = await api.get(
            "/api/notifications", state=state, build=build, kind=kind, limit=limit, cursor=cursor
        )
    if session.json:
        return session.out.json(data)
    from oore.cli.client.output import ago, status

    rows = [
        [
            d["id"],
            d["kind"],
            d["target"],
            d["event"],
            status(d["state"]),
            str(d["attempts"]),
            ago(d["created_at"]),
            d.get("last_error") or "",
        ]
        for d in data["items"]
    ]
    session.out.table(
        ["ID", "KIND", "TARGET", "EVENT", "STATE", "TRIES", "CREATED", "LAST ERROR"],
        rows,
        shrink=["TARGET", "LAST ERROR"],
        optional=["TRIES", "CREATED"],
    )
    if data.get("next_cursor"):
        session.out.note(f"more: oore notifications list --cursor {data['next_cursor']} ...")


@notifications.command("resend")
@click.argument("delivery_id")
@pass_session
async def resend(session: Session, delivery_id: str) -> None:
    """Send a dead (or delivered) delivery again; it is retried for another maximum age.

    \b
    Example:
        oore notifications resend 01J9Z3K4M5N6P7Q8R9S0T1V2W3
    """
    async with session.api() as api:
        data = await api.json("POST", f"/api/notifications/{delivery_id}/resend")
    if session.json:
        return session.out.json(data)
    session.out.line(f"delivery {data['id']} ({data['kind']}, {data['event']}) is pending again")


@notifications.group()
def webhooks() -> None:
    """Signed webhooks: each build event POSTed as JSON, signed with the target's secret.

    The body's HMAC-SHA256 is sent as `X-Oore-Signature-256: sha256=<hex>`, the event as
    `X-Oore-Event`, and a key that is the same across retries as `Idempotency-Key`.

    \b
    Example:
        oore notifications webhooks add https://hooks.example.com/oore --repo acme/app
        oore notifications webhooks list
    """


@webhooks.command("add")
@click.argument("url")
@click.option("--repo", "repo_ref", metavar="REPO", help="Only this repository's builds [all].")
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENTS),
    help="Send only this event (repeatable) [every event].",
)
@click.option(
    "--secret-stdin", is_flag=True, help="Read the secret from stdin instead of generating one."
)
@pass_session
async def add_webhook(
    session: Session, url: str, repo_ref: str | None, events: tuple[str, ...], secret_stdin: bool
) -> None:
    """Send build events to URL, signed. The secret is generated and printed once (or read from
    stdin with --secret-stdin, at least 16 characters); the server never shows it again.

    \b
    Example:
        oore notifications webhooks add https://hooks.example.com/oore --event failed
        oore notifications webhooks add https://ci.example.com/hook --secret-stdin < secret.txt
    """
    generated = "whsec_" + secrets.token_urlsafe(32)
    secret = (await read_secret("Secret")).strip() if secret_stdin else generated
    if len(secret) < MIN_SECRET:
        raise invalid(f"the secret must be at least {MIN_SECRET} characters")
    async with session.api() as api:
        body = {"url": url, "secret": secret, "events": list(events)}
        if repo_ref:
            body["repository_id"] = await repo_id(api, repo_ref)
        created = await api.json("POST", "/api/notifications/webhooks", body=body)
    if session.json:
        return session.out.json(created if secret_stdin else {**created, "secret": secret})
    if not secret_stdin:
        session.out.line(secret)
    scope = repo_ref or "every repository"
    session.out.note(
        f"webhook {created['id']} for {scope}"
        + ("" if secret_stdin else ": the secret above is shown only once; verify with it")
    )


@webhooks.command("list")
@pass_session
async def list_webhooks(session: Session) -> None:
    """List signed webhook targets (never their secrets).

    \b
    Example:
        oore notifications webhooks list
    """
    async with session.api() as api:
        data = await api.get("/api/notifications/webhooks")
    if session.json:
        return session.out.json(data)
    from oore.cli.client.output import ago

    rows = [
        [
            t["id"],
            t["url"],
            t.get("repository_id") or "(all)",
            ",".join(t["events"]) or "(all)",
            ago(t["created_at"]),
        ]
        for t in data["items"]
    ]
    session.out.table(["ID", "URL", "REPOSITORY", "EVENTS", "CREATED"], rows, shrink=["URL"])


@webhooks.command("remove")
@click.argument("target_id")
@pass_session
async def remove_webhook(session: Session, target_id: str) -> None:
    """Stop sending to a signed webhook target.

    \b
    Example:
        oore notifications webhooks remove 01J9Z3K4M5N6P7Q8R9S0T1V2W3
    """
    async with session.api() as api:
        await api.send("DELETE", f"/api/notifications/webhooks/{target_id}")
    if session.json:
        return session.out.json({"deleted": True})
    session.out.line(f"removed webhook {target_id}")


COMMANDS = (notifications,)
