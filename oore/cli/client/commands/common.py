"""Helpers the command groups share: naming a repository, `KEY=value` arguments, labels."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import asyncclick as click

from oore.cli.client.errors import CliError, ExitCode, invalid

if TYPE_CHECKING:
    from oore.cli.client.http import Api

T = TypeVar("T")


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


BUILD_REF_HELP = "BUILD is an id, a number (19) or a repository's number (acme/app#19)."


async def find_build(api: Api, ref: str) -> str:
    """The id of the build `ref` names: an id, `OWNER/NAME#N` (or `REPO_ID#N`), or `N` alone
    when only one repository has a build with that number."""
    repo, sep, number = ref.rpartition("#")
    if not sep and not ref.isdigit():
        return ref  # an id: the API says if there is no such build
    if not number.isdigit() or int(number) < 1:
        raise invalid(f"{ref!r} is not a build: {BUILD_REF_HELP}")
    params: dict[str, Any] = {"number": number, "limit": 50}
    if repo:
        params["repository"] = await repo_id(api, repo)
    items = (await api.get("/api/builds", **params))["items"]
    if not items:
        raise CliError(
            f"not found: no build #{number}{f' in {repo}' if repo else ''}", ExitCode.NOT_FOUND
        )
    if len(items) > 1:
        names = await repository_names(api)
        which = ", ".join(
            f"{names.get(b['repository_id'], b['repository_id'])}#{number}" for b in items
        )
        raise invalid(f"#{number} names builds of {len(items)} repositories ({which}); say which")
    return str(items[0]["id"])


async def repository_names(api: Api) -> dict[str, str]:
    items = (await api.get("/api/repositories"))["items"]
    return {r["id"]: r["full_name"] for r in items}


async def repo_id(api: Api, ref: str) -> str:
    return ref if "/" not in ref else str((await find_repo(api, ref))["id"])


async def poll_until(
    read: Callable[[], Awaitable[T | None]], patience: float, interval: float, failure: str
) -> T:
    """What `read` answers once it answers something, asking every `interval` seconds; after
    `patience` seconds a CliError saying `failure`. (For a browser step the CLI waits on.)"""
    import trio  # here: `oore --help` must not load trio (tests/cli/test_help.py)

    with trio.move_on_after(patience):
        while True:
            found = await read()
            if found is not None:
                return found
            await trio.sleep(interval)
    raise CliError(failure, ExitCode.INVALID)


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
