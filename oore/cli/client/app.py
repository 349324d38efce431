"""The `oore` command tree: global options, the command groups, and `main` (exit codes)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import asyncclick as click

from oore import __version__
from oore.cli.client import stdout
from oore.cli.client.commands import (
    builds,
    events,
    github,
    gitlab,
    notifications,
    pipelines,
    repos,
    secrets,
    settings,
    system,
    tokens,
)
from oore.cli.client.config import CONFIG_HELP_PATH, DEFAULT_SERVER
from oore.cli.client.errors import EXIT_CODE_HELP, CliError, ExitCode
from oore.cli.client.session import Options, Session
from oore.cli.client.stdout import StdoutClosed

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

HELP = f"""Drive an Oore build server from the command line.

Settings come from, first found: a flag, the environment (OORE_SERVER, OORE_TOKEN, OORE_PROFILE),
the selected profile in {CONFIG_HELP_PATH}, the default (server {DEFAULT_SERVER}). `oore login`
checks a token and saves it in a profile. Errors are one line on stderr.

\b
Exit codes:
{chr(10).join(f"  {int(code):<4} {meaning}" for code, meaning in EXIT_CODE_HELP)}

\b
Example:
    oore --server http://buildbox:8080 login
    oore repo add acme/app --clone-url https://github.com/acme/app.git
    oore build trigger acme/app -w release --wait
"""


@click.group(help=HELP, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="oore")
@click.option(
    "--server",
    envvar="OORE_SERVER",
    show_envvar=True,
    metavar="URL",
    help="Base URL of the Oore server [default: the profile's, else http://127.0.0.1:8080].",
)
@click.option(
    "--token",
    envvar="OORE_TOKEN",
    show_envvar=True,
    metavar="TOKEN",
    help="Admin or API token [default: the profile's].",
)
@click.option(
    "--profile",
    envvar="OORE_PROFILE",
    show_envvar=True,
    metavar="NAME",
    help="Profile of the config file to use [default: its default_profile, else 'default'].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON unchanged.")
@click.option("--no-color", is_flag=True, help="No colours (NO_COLOR in the environment too).")
@click.pass_context
def cli(
    ctx: click.Context,
    server: str | None,
    token: str | None,
    profile: str | None,
    as_json: bool,
    no_color: bool,
) -> None:
    options = Options(server or None, token or None, profile or None, as_json, not no_color)
    ctx.obj = Session(options)


for module in (
    system,
    repos,
    builds,
    events,
    pipelines,
    secrets,
    tokens,
    gitlab,
    github,
    notifications,
    settings,
):
    for command in module.COMMANDS:
        cli.add_command(command)


def run(argv: Sequence[str] | None = None) -> int:
    """Run `oore` with `argv`; the exit code (see `ExitCode`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = _without_loop(args) if HELP_FLAGS.intersection(args) else NEEDS_LOOP
        if result is NEEDS_LOOP:
            result = cli(args, prog_name="oore", standalone_mode=False, _anyio_backend="trio")
    except StdoutClosed:
        stdout.silence()
        return ExitCode.OK
    except CliError as exc:
        exc.show()
        return exc.exit_code
    except click.ClickException as exc:  # usage errors, bad parameters, unreadable files
        exc.show()
        return ExitCode.INVALID
    except click.Abort:
        click.echo("oore: interrupted", err=True)
        return ExitCode.INTERRUPTED
    return result if isinstance(result, int) else ExitCode.OK


HELP_FLAGS = frozenset({"-h", "--help", "-V", "--version"})
NEEDS_LOOP = object()


def _without_loop(args: list[str]) -> object:
    """Show help or the version without starting trio.

    Importing and starting trio is most of `oore --help`'s start-up time, and printing help
    never waits on anything: asyncclick's coroutine runs to its end on the first step. Should
    it ever wait after all, it is dropped (nothing has been printed yet: help is printed last)
    and the caller runs the command on the event loop as usual.
    """
    step = cli.main(args, prog_name="oore", standalone_mode=False)
    try:
        step.send(None)
    except StopIteration as done:
        return done.value
    step.close()
    return NEEDS_LOOP


def main() -> None:
    # httpx's package imports its own command-line tool (and with it click, rich and pygments)
    # whenever those happen to be installed; `oore` never uses it, and it is a tenth of a
    # second of every command's start-up. httpx imports it inside try/except ImportError.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    sys.exit(run())
