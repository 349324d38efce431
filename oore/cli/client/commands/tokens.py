"""`oore token create|list|revoke`: API tokens (these need the admin token)."""

from __future__ import annotations

import asyncclick as click

from oore.cli.client.session import Session, pass_session


@click.group()
def token() -> None:
    """Create, list and revoke API tokens (with the admin token).

    \b
    Example:
        oore token create laptop --scope write
        oore token list
    """


@token.command("create")
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice(["read", "write"]),
    default="read",
    show_default=True,
    help="read: GET only; write: everything but tokens.",
)
@pass_session
async def create(session: Session, name: str, scope: str) -> None:
    """Create an API token; its secret is printed once.

    \b
    Example:
        oore token create ci-bot --scope write
        export OORE_TOKEN=$(oore --json token create dashboard | jq -r .token)
    """
    async with session.api() as api:
        created = await api.json("POST", "/api/tokens", body={"name": name, "scope": scope})
    if session.json:
        return session.out.json(created)
    session.out.line(created["token"])
    session.out.note(
        f"token {created['name']} ({created['id']}, {created['scope']}): the secret above is "
        "shown only once; use it with `oore login` or OORE_TOKEN"
    )


@token.command("list")
@pass_session
async def list_tokens(session: Session) -> None:
    """List API tokens (never their secrets).

    \b
    Example:
        oore token list
    """
    async with session.api() as api:
        data = await api.get("/api/tokens")
    if session.json:
        return session.out.json(data)
    from oore.cli.client.output import ago, status

    rows = [
        [
            t["id"],
            t["name"],
            t["scope"],
            status("revoked") if t.get("revoked_at") else status("active"),
            ago(t["created_at"]),
            ago(t.get("last_used_at")) if t.get("last_used_at") else "never",
        ]
        for t in data["items"]
    ]
    session.out.table(
        ["ID", "NAME", "SCOPE", "STATE", "CREATED", "LAST USED"], rows, shrink=["NAME"]
    )


@token.command("revoke")
@click.argument("token_id")
@pass_session
async def revoke(session: Session, token_id: str) -> None:
    """Revoke an API token; requests with it are refused from now on.

    \b
    Example:
        oore token revoke 01J9Z3K4M5N6P7Q8R9S0T1V2W3
    """
    async with session.api() as api:
        revoked = await api.json("DELETE", f"/api/tokens/{token_id}")
    if session.json:
        return session.out.json(revoked)
    session.out.line(f"revoked token {revoked['name']} ({revoked['id']})")


COMMANDS = (token,)
