"""Profiles: named server + token pairs in a TOML file in the user's config dir.

The file holds tokens, so it is written 0600 (atomically, through a temporary file) and a
broader mode is warned about on every read. Python reads TOML (tomllib) but does not write it;
the file is simple enough (one optional key and a table per profile) to write here.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import asyncclick as click

from oore.cli.client.errors import invalid

DEFAULT_SERVER = "http://127.0.0.1:8080"
DEFAULT_PROFILE = "default"
CONFIG_HELP_PATH = (
    "$XDG_CONFIG_HOME/oore/config.toml (default ~/.config/oore/config.toml;"
    " macOS ~/Library/Application Support/oore/config.toml; OORE_CONFIG overrides)"
)


@dataclass(frozen=True, slots=True)
class Profile:
    server: str | None = None
    token: str | None = None


@dataclass(slots=True)
class Config:
    default_profile: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)


def config_path(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> Path:
    if environ.get("OORE_CONFIG"):
        return Path(environ["OORE_CONFIG"])
    xdg = environ.get("XDG_CONFIG_HOME")
    home = Path(environ.get("HOME") or Path.home())
    if xdg and Path(xdg).is_absolute():
        base = Path(xdg)
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = home / ".config"
    return base / "oore" / "config.toml"


def load(path: Path) -> Config:
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise invalid(f"cannot read {path}: {exc.strerror}") from None
    _warn_if_broad(path, mode)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise invalid(f"{path} is not valid TOML ({exc}); fix it or delete it") from None
    return _from_toml(path, data)


def save(path: Path, config: Config) -> None:
    """Write `config` with mode 0600, replacing the file in one step."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the file may have existed with a broader mode
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(dumps(config))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def dumps(config: Config) -> str:
    lines = ["# Profiles of the oore client, written by `oore login`. Holds tokens: keep it 0600."]
    if config.default_profile is not None:
        lines.append(f"default_profile = {_string(config.default_profile)}")
    for name in sorted(config.profiles):
        profile = config.profiles[name]
        lines += ["", f"[profiles.{_string(name)}]"]
        lines += [f"{k} = {_string(v)}" for k, v in _items(profile)]
    return "\n".join(lines) + "\n"


def _items(profile: Profile) -> list[tuple[str, str]]:
    pairs = (("server", profile.server), ("token", profile.token))
    return [(key, value) for key, value in pairs if value is not None]


def _string(value: str) -> str:
    # A JSON string is a TOML basic string, except that TOML also wants DEL escaped (and would
    # refuse JSON's surrogate-pair escapes, hence ensure_ascii=False).
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _from_toml(path: Path, data: dict[str, object]) -> Config:
    default = data.get("default_profile")
    profiles = data.get("profiles", {})
    if default is not None and not isinstance(default, str):
        raise invalid(f"{path}: default_profile must be a string")
    if not isinstance(profiles, dict):
        raise invalid(f"{path}: profiles must be a table of [profiles.NAME] tables")
    found: dict[str, Profile] = {}
    for name, table in profiles.items():
        if not isinstance(table, dict) or not all(
            isinstance(table.get(key, ""), str) for key in ("server", "token")
        ):
            raise invalid(f"{path}: [profiles.{name}] must hold string server and token keys")
        found[name] = Profile(table.get("server"), table.get("token"))
    return Config(default, found)


def _warn_if_broad(path: Path, mode: int) -> None:
    if sys.platform != "win32" and stat.S_IMODE(mode) & 0o077:
        click.echo(
            f"oore: warning: {path} holds tokens but has mode {stat.S_IMODE(mode):04o}; "
            f"run `chmod 600 {path}`",
            err=True,
        )
