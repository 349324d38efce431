"""Helpers the command groups share: naming a repository, `KEY=value` arguments, labels."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import asyncclick as click

from oore.cli.client.errors import CliError, ExitCode, invalid

if TYPE_CHECKING:
    from oore.cli.client.http import Api


async def find_repo(api: Api, ref: str) -> dict[str, Any]:
    """The repository named by its id or by OWNER/NAME."""
    if "/" not in ref:
        found: dict[str, Any] = await api.get(f"/api/repositories/{ref}")
        return found
    items = (await api.get("/api/repositories"))["items"]
    matches = [r for r in items if r["full_name"].lower() == ref.lower()]
    if not matches:
        raise CliError(f"not found: no repository named {ref}", ExitCode.NOT_FOUND)
    if len(matches) > 1:
        ids = ", ".join(r["id"] for r in matches)
        raise invalid(f"{ref} names {len(matches)} repositories ({ids}); use an id")
    return dict(matches[0])


async def repo_id(api: Api, ref: str) -> str:
    return ref if "/" not in ref else str((await find_repo(api, ref))["id"])


def key_values(values: Iterable[str], option: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise invalid(f"{option} takes KEY=VALUE, not {value!r}")
        found[name] = rest
    return found


async def read_secret(prompt: str) -> str:
    """A value typed with hidden input, or a line of stdin when that is not a terminal."""
    if not sys.stdin.isatty():  # `... < file` or a pipe: no prompt, no echo warning
        return sys.stdin.readline().rstrip("\n")
    value: str = await click.prompt(prompt, hide_input=True)
    return value


def confirmed(question: str, yes: bool) -> None:
    """Go on only if --yes was given or the person at the terminal says so."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise invalid("not at a terminal to confirm: add --yes")
    if not click.confirm(question):
        raise invalid("not confirmed; nothing was changed")


def build_label(build: dict[str, Any]) -> str:
    return f"build #{build.get('number')} ({build.get('id')})"


def ref_of(build: dict[str, Any]) -> str:
    if build.get("pr_number"):
        return f"PR #{build['pr_number']} ({build.get('branch') or '-'})"
    if build.get("tag"):
        return f"tag {build['tag']}"
    return str(build.get("branch") or "-")
