"""`oore health`, `oore version`, `oore login` and `oore profile ...`."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import asyncclick as click

from oore import __version__
from oore.cli.client import config
from oore.cli.client.commands.common import read_secret
from oore.cli.client.errors import CliError, ExitCode, invalid
from oore.cli.client.session import Session, pass_session

if TYPE_CHECKING:
    from oore.cli.client.http import Api


@click.command()
@pass_session
async def health(session: Session) -> None:
    """Check that the server answers and its store works.

    \b
    Example:
        oore health
        oore --server http://buildbox:8080 --json health
    """
    async with session.api() as api:
        data = await api.get("/api/health")
    if session.json:
        return session.out.json(data)
    from oore.cli.client.output import duration, status

    uptime = duration(data.get("uptime_seconds"))
    session.out.line(status(data.get("status")), f" {session.target().server} (up {uptime})")


@click.command()
@pass_session
async def version(session: Session) -> None:
    """Show the client's version and the server's.

    \b
    Example:
        oore version
    """
    async with session.api() as api:
        data = await api.get("/api/version")
    if session.json:
        return session.out.json(data)  # the server's object unchanged; `oore -V` is ours
    session.out.fields(
        [
            ("client", __version__),
            ("server", data.get("version")),
            ("server python", data.get("python")),
            ("server trio", data.get("trio")),
        ]
    )


@click.command()
@pass_session
async def login(session: Session) -> None:
    """Check a token against the server and save it, with the server, in a profile.

    The token comes from --token or OORE_TOKEN, else it is asked for (hidden; read from stdin
    when that is not a terminal). Nothing is saved unless the server accepts it. The profile is
    --profile (default 'default'); the first one saved becomes the default.

    \b
    Example:
        oore --server http://buildbox:8080 login
        oore --profile staging --server https://ci.example.com --token "$TOKEN" login
    """
    target = session.target(new_ok=True)
    # Never the profile's old token: logging in is how a new one is checked and saved.
    token = (session.options.token or await read_secret("Token")).strip()
    if not token:
        raise invalid("no token given")
    target = dataclasses.replace(target, token=token)
    async with session.api(target) as api:
        await api.get("/api/repositories")  # any authenticated read proves the token
        admin = await _is_admin(api)
    found = config.load(target.config_path)
    found.profiles[target.profile] = config.Profile(target.server, token)
    found.default_profile = found.default_profile or target.profile
    config.save(target.config_path, found)
    kind = "the admin token" if admin else "an API token"
    if session.json:
        return session.out.json(
            {
                "profile": target.profile,
                "server": target.server,
                "config": str(target.config_path),
                "admin": admin,
            }
        )
    session.out.line(f"logged in to {target.server} with {kind}")
    session.out.note(f"saved profile {target.profile!r} in {target.config_path}")


async def _is_admin(api: Api) -> bool:
    # Only the admin token may list tokens; an API token is refused with 403.
    try:
        await api.get("/api/tokens")
    except CliError as exc:
        if exc.exit_code == ExitCode.AUTH:
            return False
        raise
    return True


@click.group()
def profile() -> None:
    """List, choose and remove the profiles of the config file.

    \b
    Example:
        oore profile list
        oore profile use staging
    """


@profile.command("list")
@pass_session
async def list_profiles(session: Session) -> None:
    """List the saved profiles (tokens shortened).

    \b
    Example:
        oore profile list
    """
    path = config.config_path()
    found = config.load(path)
    if session.json:
        return session.out.json(
            {
                "default_profile": found.default_profile,
                "profiles": {
                    n: {"server": p.server, "has_token": bool(p.token)}
                    for n, p in found.profiles.items()
                },
            }
        )
    rows = [
        ["*" if name == found.default_profile else "", name, p.server or "-", _masked(p.token)]
        for name, p in sorted(found.profiles.items())
    ]
    session.out.table(["", "PROFILE", "SERVER", "TOKEN"], rows, shrink=["SERVER"])


@profile.command("use")
@click.argument("name")
@pass_session
async def use_profile(session: Session, name: str) -> None:
    """Make NAME the profile used when --profile and OORE_PROFILE are not given.

    \b
    Example:
        oore profile use staging
    """
    path = config.config_path()
    found = config.load(path)
    if name not in found.profiles:
        raise CliError(f"no profile {name!r} in {path}", ExitCode.NOT_FOUND)
    found.default_profile = name
    config.save(path, found)
    session.out.line(f"default profile is now {name!r}")


@profile.command("remove")
@click.argument("name")
@pass_session
async def remove_profile(session: Session, name: str) -> None:
    """Forget the profile NAME and its token.

    \b
    Example:
        oore profile remove staging
    """
    path = config.config_path()
    found = config.load(path)
    if found.profiles.pop(name, None) is None:
        raise CliError(f"no profile {name!r} in {path}", ExitCode.NOT_FOUND)
    if found.default_profile == name:
        found.default_profile = None
    config.save(path, found)
    session.out.line(f"removed profile {name!r}")


def _masked(token: str | None) -> str:
    return f"…{token[-4:]}" if token and len(token) > 8 else ("set" if token else "-")


COMMANDS = (login, health, version, profile)
