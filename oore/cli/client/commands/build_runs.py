"""`oore build trigger|retry|cancel|logs|download`: the build commands that start, follow or
stop a build, or move bytes. `--wait` and `logs -f` end with the build's exit code (0 succeeded,
1 failed, 2 errored/cancelled/timed out/skipped) so they can gate a script.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncclick as click

from oore.cli.client.commands.common import (
    build_label,
    confirmed,
    find_build,
    find_repo,
    key_values,
    ref_of,
)
from oore.cli.client.errors import BUILD_EXIT, ExitCode, invalid
from oore.cli.client.session import Session, pass_session
from oore.cli.client.stdout import echo

if TYPE_CHECKING:
    from collections.abc import Callable

    from oore.cli.client.follow import Reconnect
    from oore.cli.client.http import Api

Build = dict[str, Any]

interval_option = click.option(
    "--interval",
    type=click.FloatRange(0.05, 60),
    default=1.0,
    show_default=True,
    help="Seconds between looks at the server while following.",
)
wait_option = click.option(
    "--wait",
    is_flag=True,
    help="Wait until the build finishes; exit 0 succeeded, 1 failed, 2 errored/cancelled/...",
)
follow_option = click.option(
    "-f", "--follow", is_flag=True, help="Print the build's log as it runs (implies --wait)."
)


@click.command("trigger")
@click.argument("ref", metavar="REPO")
@click.option("-w", "--workflow", required=True, help="The workflow of the pipeline file to run.")
@click.option("--branch", help="Build the tip of this branch [default: the repository's].")
@click.option("--tag", help="Build this tag.")
@click.option("--sha", help="Build this commit (full hex sha).")
@click.option("--input", "inputs", multiple=True, metavar="KEY=VALUE", help="A workflow input.")
@click.option("--env", "env", multiple=True, metavar="NAME=VALUE", help="An extra variable.")
@wait_option
@follow_option
@interval_option
@pass_session
async def trigger(
    session: Session,
    ref: str,
    workflow: str,
    branch: str | None,
    tag: str | None,
    sha: str | None,
    inputs: tuple[str, ...],
    env: tuple[str, ...],
    wait: bool,
    follow: bool,
    interval: float,
) -> None:
    """Start a build of REPO (its id or OWNER/NAME) by hand.

    \b
    Example:
        oore build trigger acme/app -w release --tag v1.4.0 --wait
        oore build trigger acme/app -w tests --branch feature/x --env LOG_LEVEL=debug -f
    """
    if sum(x is not None for x in (branch, tag, sha)) > 1:
        raise invalid("give at most one of --branch, --tag and --sha")
    body: dict[str, Any] = {"workflow": workflow}
    body["inputs"] = key_values(inputs, "--input")
    body["env"] = key_values(env, "--env")
    async with session.api() as api:
        repository = await find_repo(api, ref)
        if tag:
            body["tag"] = tag
        elif sha:
            body["sha"] = sha
        else:
            body["branch"] = branch or repository["default_branch"]
        started = await api.json("POST", f"/api/repositories/{repository['id']}/builds", body=body)
        if not session.json:
            session.out.line(
                f"started {build_label(started)}: {repository['full_name']} "
                f"workflow {workflow} at {ref_of(started)}"
            )
        await _after_start(session, api, started, wait or follow, follow, interval)


@click.command("retry")
@click.argument("build_id", metavar="BUILD")
@wait_option
@follow_option
@interval_option
@pass_session
async def retry(session: Session, build_id: str, wait: bool, follow: bool, interval: float) -> None:
    """Run a finished build again, as a new build (a new attempt of the same commit).

    \b
    Example:
        oore build retry 01J9Z3K4M5N6P7Q8R9S0T1V2W3 --wait
    """
    async with session.api() as api:
        build_id = await find_build(api, build_id)
        started = await api.json("POST", f"/api/builds/{build_id}/retry")
        if not session.json:
            session.out.line(f"started {build_label(started)}, attempt {started['attempt']}")
        await _after_start(session, api, started, wait or follow, follow, interval)


@click.command("cancel")
@click.argument("build_id", metavar="BUILD")
@pass_session
async def cancel(session: Session, build_id: str) -> None:
    """Cancel a queued or running build.

    \b
    Example:
        oore build cancel 01J9Z3K4M5N6P7Q8R9S0T1V2W3
    """
    async with session.api() as api:
        build_id = await find_build(api, build_id)
        answer = await api.json("POST", f"/api/builds/{build_id}/cancel")
    if session.json:
        return session.out.json(answer)
    from oore.cli.client.output import status

    session.out.line(f"cancelling {build_label(answer)}: now ", status(answer["status"]))


async def _after_start(
    session: Session, api: Api, started: Build, wait: bool, follow: bool, interval: float
) -> None:
    if not wait:
        if session.json:
            session.out.json(started)
        return
    from oore.cli.client import follow as following

    reconnect = _reconnect(session, contacted=True)  # the build was just started there
    if follow:
        tracker = following.follower(api, reconnect, interval=interval)
        # With --json, stdout is kept for the final build object; the log goes to stderr.
        final = await tracker.follow(started["id"], _echo(err=session.json))
    else:
        final = await following.wait_for(
            api, started["id"], reconnect, _status_note(session), interval=interval
        )
    await _finish(session, api, final)


async def _finish(session: Session, api: Api, build: Build, *, quiet: bool = False) -> None:
    """Print how the build ended (the build object with --json) and exit with its code."""
    build = await api.get(f"/api/builds/{build['id']}")  # with its final steps and times
    code = BUILD_EXIT.get(build["status"], ExitCode.BUILD_NOT_SUCCEEDED)
    if quiet:
        pass
    elif session.json:
        session.out.json(build)
    else:
        from oore.cli.client.output import duration, status

        reason = f": {build['reason']}" if build.get("reason") else ""
        took = f" after {duration(build['duration_seconds'])}" if build.get("started_at") else ""
        session.out.line(f"{build_label(build)} ", status(build["status"]), f"{took}{reason}")
    if code:
        raise click.exceptions.Exit(int(code))


def _echo(*, err: bool) -> Callable[[str], None]:
    return lambda line: echo(line, err=err)


def _reconnect(session: Session, *, contacted: bool = False) -> Reconnect:
    from oore.cli.client.follow import Reconnect

    return Reconnect(lambda message: session.out.note(f"oore: {message}"), contacted)


def _status_note(session: Session) -> Callable[[Build], None]:
    def note(build: Build) -> None:
        if not session.json and build["status"] not in BUILD_EXIT:  # the last line says that
            session.out.note(f"{build_label(build)} is {build['status']}")

    return note


@click.command("logs")
@click.argument("build_id", metavar="BUILD")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the build finishes.")
@click.option("--since", type=click.IntRange(1), default=1, help="First line to print (1-based).")
@interval_option
@pass_session
async def logs(session: Session, build_id: str, follow: bool, since: int, interval: float) -> None:
    """Print a build's log; with -f, follow it to the end and exit with the build's code.

    While following, a dropped connection is retried with backoff (for up to 5 minutes) and
    printing resumes after the last line printed: every line appears once. With --json, only
    the log is printed (the exit code tells how the build ended).

    \b
    Example:
        oore build logs 01J9Z3K4M5N6P7Q8R9S0T1V2W3
        oore build logs -f acme/app#19 | tee build.log
    """
    from oore.cli.client import follow as following

    async with session.api() as api:
        build_id = await find_build(api, build_id)
        if follow:
            tracker = following.follower(api, _reconnect(session), interval=interval)
            final = await tracker.follow(build_id, echo, since=since)
            return await _finish(session, api, final, quiet=session.json)
        response = await api.send("GET", f"/api/builds/{build_id}/log", params={"since": since})
    honoured = "X-Next-Line" in response.headers
    for line in following.new_lines(response.text, honoured, since, final=True):
        echo(line)  # `| head` ends it: StdoutClosed, exit 0


@click.command("download")
@click.argument("artifact_id")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="File or directory to save it to."
)
@click.option("--build", "build_id", help="The artifact's build: also check its listed sha256.")
@pass_session
async def download(
    session: Session, artifact_id: str, output: Path | None, build_id: str | None
) -> None:
    """Download an artifact, resuming a partial download and checking its sha256.

    The bytes go to PATH.partial first; an existing PATH.partial is resumed (HTTP Range). Only
    a file whose sha256 matches is renamed to PATH; one that does not is kept as PATH.partial
    and the exit code is 8.

    \b
    Example:
        oore build download 01J9Z3K4M5N6P7Q8R9S0T1V2W3 -o app-release.apk
    """
    from oore.cli.client.download import download as fetch
    from oore.cli.client.output import ProgressBar, size

    async with session.api() as api:
        if build_id:
            build_id = await find_build(api, build_id)
        listed = await _listed(api, build_id, artifact_id) if build_id else None
        with ProgressBar(session.out) as bar:
            done = await fetch(api, artifact_id, output, listed=listed, progress=bar)
    if session.json:
        return session.out.json(
            {
                "artifact_id": artifact_id,
                "path": str(done.path),
                "size": done.size,
                "sha256": done.sha256,
                "resumed_from": done.resumed_from,
            }
        )
    resumed = f", resumed at {size(done.resumed_from)}" if done.resumed_from else ""
    session.out.line(f"saved {done.path} ({size(done.size)}, sha256 {done.sha256[:16]}…{resumed})")


async def _listed(api: Api, build_id: str, artifact_id: str) -> dict[str, Any]:
    items = (await api.get(f"/api/builds/{build_id}/artifacts"))["items"]
    for item in items:
        if item["id"] == artifact_id:
            return dict(item)
    from oore.cli.client.errors import CliError

    raise CliError(f"not found: build {build_id} has no artifact {artifact_id}", ExitCode.NOT_FOUND)


@click.command("delete")
@click.argument("build_id", metavar="BUILD")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_session
async def delete(session: Session, build_id: str, yes: bool) -> None:
    """Delete a finished build with its log, artifacts and workspace.

    \b
    Example:
        oore build delete acme/app#19 --yes
    """
    async with session.api() as api:
        build_id = await find_build(api, build_id)
        build = await api.get(f"/api/builds/{build_id}")
        confirmed(f"Delete {build_label(build)} and all its files?", yes)
        await api.send("DELETE", f"/api/builds/{build_id}")
    if session.json:
        return session.out.json({"deleted": build_id})
    session.out.line(f"deleted {build_label(build)}")


COMMANDS = (trigger, cancel, retry, delete, logs, download)
