"""`oore secrets list|show|set|delete`: secret groups, whose values go in and never come out.

Values are never printed, not even back to the person who typed them; a value given as `NAME`
alone is asked for with hidden input, so it stays out of shell history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncclick as click

from oore.cli.client.commands.common import read_secret, repo_id
from oore.cli.client.errors import invalid
from oore.cli.client.session import Session, pass_session
from oore.envfile import parse_env_file
from oore.errors import ConfigError


@click.group()
def secrets() -> None:
    """Manage secret groups (the `environment.groups` of a workflow).

    \b
    Example:
        oore secrets set signing --from-env-file signing.env --repository acme/app
        oore secrets list
    """


@secrets.command("list")
@pass_session
async def list_groups(session: Session) -> None:
    """List secret groups and their variable names (values are never shown).

    \b
    Example:
        oore secrets list
    """
    async with session.api() as api:
        data = await api.get("/api/secret-groups")
    if session.json:
        return session.out.json(data)
    names = await _repository_names(session) if _scoped(data["items"]) else {}
    rows = [
        [g["name"], ", ".join(g["variables"]), _scope_text(g["repositories"], names)]
        for g in data["items"]
    ]
    session.out.table(
        ["GROUP", "VARIABLES", "REPOSITORIES"], rows, shrink=["VARIABLES", "REPOSITORIES"]
    )


@secrets.command("show")
@click.argument("group")
@pass_session
async def show_group(session: Session, group: str) -> None:
    """List the variable names of one secret group, and the repositories that may use it.

    \b
    Example:
        oore secrets show signing
    """
    async with session.api() as api:
        data = await api.get(f"/api/secret-groups/{group}")
    if session.json:
        return session.out.json(data)
    names = await _repository_names(session) if _scoped([data]) else {}
    session.out.fields(
        [
            ("variables", ", ".join(data["variables"])),
            ("repositories", _scope_text(data["repositories"], names)),
        ]
    )


@secrets.command("set")
@click.argument("group")
@click.argument("assignments", nargs=-1, metavar="[NAME=VALUE|NAME]...")
@click.option(
    "--from-env-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read NAME=value lines (`export`, quotes and # comments allowed).",
)
@click.option(
    "--repository",
    "repositories",
    multiple=True,
    metavar="REPO",
    help="Only this repository's builds may use the group (id or OWNER/NAME; repeatable).",
)
@click.option(
    "--all-repositories",
    is_flag=True,
    help="Every repository's builds may use the group (clears --repository).",
)
@pass_session
async def set_group(
    session: Session,
    group: str,
    assignments: tuple[str, ...],
    from_env_file: Path | None,
    repositories: tuple[str, ...],
    all_repositories: bool,
) -> None:
    """Create or replace GROUP with the given variables (the group's old variables go).

    A NAME without =VALUE is asked for with hidden input (read as a line of stdin when that is
    not a terminal). Values are never printed. Without --repository or --all-repositories, a
    new group may be used by every repository and an existing one keeps its repositories.
    Pull requests from forks get no group unless their repository allows it
    (`oore repo edit REPO --allow-fork-secrets`).

    \b
    Example:
        oore secrets set signing --from-env-file signing.env --repository acme/app
        oore secrets set deploy API_KEY          # asks for the value
        oore secrets set deploy REGION=eu-west-1 API_KEY --all-repositories
    """
    if repositories and all_repositories:
        raise invalid("give --repository or --all-repositories, not both")
    variables = _env_file_variables(from_env_file) if from_env_file else {}
    for item in assignments:
        name, sep, value = item.partition("=")
        variables[name] = value if sep else await read_secret(name)
    if not variables:
        raise invalid("give NAME=VALUE arguments or --from-env-file")
    body: dict[str, Any] = {"variables": variables}
    async with session.api() as api:
        if repositories or all_repositories:
            body["repositories"] = [await repo_id(api, ref) for ref in repositories]
        answer = await api.json("PUT", f"/api/secret-groups/{group}", body=body)
    if session.json:
        return session.out.json(answer)
    scope = "every repository" if not answer["repositories"] else "its repositories"
    session.out.line(
        f"stored {len(answer['variables'])} variable(s) in {answer['name']} (used by {scope})"
    )


@secrets.command("delete")
@click.argument("group")
@pass_session
async def delete_group(session: Session, group: str) -> None:
    """Remove a secret group.

    \b
    Example:
        oore secrets delete signing
    """
    async with session.api() as api:
        await api.json("DELETE", f"/api/secret-groups/{group}")
    if session.json:
        return session.out.json({"name": group, "deleted": True})
    session.out.line(f"removed secret group {group}")


def _scoped(groups: list[dict[str, Any]]) -> bool:
    return any(g["repositories"] for g in groups)


async def _repository_names(session: Session) -> dict[str, str]:
    async with session.api() as api:
        items = (await api.get("/api/repositories"))["items"]
    return {r["id"]: r["full_name"] for r in items}


def _scope_text(ids: list[str], names: dict[str, str]) -> str:
    # A removed repository's id stays in the scope (so it never widens to all): show the id.
    return ", ".join(names.get(i, i) for i in ids) if ids else "(all)"


def _env_file_variables(path: Path) -> dict[str, str]:
    """The file's variables, read as oored reads its own env file; every bad line is named."""
    try:
        return parse_env_file(path)
    except ConfigError as exc:
        # An error is one line on the terminal: one problem per bad line, joined.
        raise invalid("; ".join(exc.message.splitlines())) from None


COMMANDS = (secrets,)
