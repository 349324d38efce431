"""`oore repo credentials show|set|delete` and `oore repo deploy-key`: a private repository's
credential. A token is read from stdin (hidden input at a terminal), never from the command
line, where `ps` and the shell's history would show it; it is never printed back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncclick as click

from oore.cli.client.commands.common import read_secret, repo_id
from oore.cli.client.errors import CliError, ExitCode, invalid
from oore.cli.client.session import Session, pass_session

if TYPE_CHECKING:
    from oore.cli.client.http import Api


def _path(repository_id: str) -> str:
    return f"/api/repositories/{repository_id}/credentials"


@click.group()
def credentials() -> None:
    """The credential Oore fetches a private repository with (a token or a deploy key).

    \b
    Example:
        oore repo credentials set acme/app < token.txt
        oore repo credentials show acme/app
    """


@credentials.command("show")
@click.argument("ref", metavar="REPO")
@pass_session
async def show_credential(session: Session, ref: str) -> None:
    """Show what kind of credential REPO has (never the token or private key).

    \b
    Example:
        oore repo credentials show acme/app
    """
    async with session.api() as api:
        data = await api.get(_path(await repo_id(api, ref)))
    _print(session, data)


@credentials.command("set")
@click.argument("ref", metavar="REPO")
@click.option(
    "--username",
    metavar="NAME",
    help="User name sent with the token (default x-access-token; Bitbucket: your user name).",
)
@pass_session
async def set_credential(session: Session, ref: str, username: str | None) -> None:
    """Give Oore an HTTPS token to fetch REPO with (GitHub or GitLab personal, project or
    fine-grained token; Bitbucket app password). It only needs to read the repository.

    The token is read from stdin: typed with hidden input at a terminal, or one line of a pipe
    or file. It is stored sealed, sent only to the clone URL's host, and never shown again.

    \b
    Example:
        oore repo credentials set acme/app < token.txt
        oore repo credentials set acme/app --username me    # asks for the token
    """
    token = (await read_secret("Token")).strip()
    if not token:
        raise invalid("no token was given on stdin")
    body: dict[str, Any] = {"kind": "https_token", "token": token}
    if username:
        body["username"] = username
    async with session.api() as api:
        data = await api.json("PUT", _path(await repo_id(api, ref)), body=body)
    if session.json:
        return session.out.json(data)
    session.out.line(f"stored a token for {ref}; builds now fetch with it")


@credentials.command("delete")
@click.argument("ref", metavar="REPO")
@pass_session
async def delete_credential(session: Session, ref: str) -> None:
    """Remove REPO's credential; it is fetched without one from then on.

    \b
    Example:
        oore repo credentials delete acme/app
    """
    async with session.api() as api:
        await api.send("DELETE", _path(await repo_id(api, ref)))
    if session.json:
        return session.out.json({"deleted": True})
    session.out.line(f"removed the credential of {ref}")


@click.command("deploy-key")
@click.argument("ref", metavar="REPO")
@click.option("--regenerate", is_flag=True, help="Make a new key pair, replacing any credential.")
@pass_session
async def deploy_key(session: Session, ref: str, regenerate: bool) -> None:
    """Print REPO's SSH deploy key, generating it first if REPO has none.

    Add the printed public key to the repository at the provider as a read-only deploy key
    (GitHub: Settings > Deploy keys; GitLab: Settings > Repository > Deploy keys). The clone
    URL must be an SSH one (git@host:owner/repo.git). The private key never leaves Oore.

    \b
    Example:
        oore repo deploy-key acme/app
        oore repo deploy-key acme/app --regenerate
    """
    async with session.api() as api:
        path = _path(await repo_id(api, ref))
        data = None if regenerate else await _existing(api, path)
        if data is not None and data["kind"] != "ssh_deploy_key":
            raise invalid(f"{ref} has an HTTPS token; add --regenerate to replace it with a key")
        if data is None:
            data = await api.json("PUT", path, body={"kind": "ssh_deploy_key"})
    if session.json:
        return session.out.json(data)
    session.out.line(data["public_key"])


async def _existing(api: Api, path: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = await api.get(path)
    except CliError as exc:
        if exc.code != ExitCode.NOT_FOUND:
            raise
        return None
    return found


def _print(session: Session, data: dict[str, Any]) -> None:
    if session.json:
        return session.out.json(data)
    session.out.fields(
        [
            ("kind", data["kind"]),
            ("username", data.get("username")),
            ("public key", data.get("public_key")),
            ("sent to", data["origin"] or "(a local path)"),
            ("set", data["created_at"]),
        ]
    )
