"""What every command is handed: the global options, resolved into a server, a token and an
output style only when a command needs them (so `--help` reads no file and imports no HTTP
library). Precedence: flag > environment > the selected profile > the built-in default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import asyncclick as click

from oore.cli.client import config
from oore.cli.client.errors import invalid

if TYPE_CHECKING:
    from oore.cli.client.http import Api
    from oore.cli.client.output import Output


@dataclass(frozen=True, slots=True)
class Options:
    """The global options as given (flag or environment); None where neither said anything."""

    server: str | None = None
    token: str | None = None
    profile: str | None = None
    json: bool = False
    color: bool = True


@dataclass(frozen=True, slots=True)
class Target:
    server: str
    token: str | None
    profile: str  # the profile that was (or, for `login`, will be) used
    config_path: Path


def resolve(options: Options, found: config.Config, path: Path, *, new_ok: bool) -> Target:
    name = options.profile or found.default_profile or config.DEFAULT_PROFILE
    profile = found.profiles.get(name)
    if profile is None and options.profile and not new_ok:
        raise invalid(
            f"no profile {name!r} in {path}; create it with `oore --profile {name} login`"
        )
    profile = profile or config.Profile()
    server = (options.server or profile.server or config.DEFAULT_SERVER).rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise invalid(f"the server must be an http:// or https:// URL, not {server!r}")
    return Target(server, options.token or profile.token, name, path)


class Session:
    def __init__(self, options: Options) -> None:
        self.options = options
        self._target: Target | None = None
        self._out: Output | None = None

    @property
    def json(self) -> bool:
        return self.options.json

    def target(self, *, new_ok: bool = False) -> Target:
        if self._target is None:
            path = config.config_path()
            self._target = resolve(self.options, config.load(path), path, new_ok=new_ok)
        return self._target

    def api(self, target: Target | None = None) -> Api:
        from oore.cli.client.http import Api

        chosen = target or self.target()
        return Api(chosen.server, chosen.token)

    @property
    def out(self) -> Output:
        if self._out is None:
            from oore.cli.client.output import Output

            self._out = Output(json=self.options.json, color=self.options.color)
        return self._out


pass_session = click.make_pass_decorator(Session)
