"""Render the `--help` of every `oore` and `oored` command as Markdown, into README.md.

The README's CLI reference (between the `cli-reference` markers) is this script's output, so
the reference cannot drift from the commands: `tests/cli/test_reference.py` fails when it does.

    python scripts/cli_reference.py           rewrite the README section
    python scripts/cli_reference.py --check   exit 1 if the README section is out of date
    python scripts/cli_reference.py --print   print the rendered section
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import asyncclick as click

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"
# Help is rendered as on a terminal this wide, whatever terminal runs this script: each program
# then wraps at its own max_content_width (click's default 80), as its users see it.
COLUMNS = 120


def programs() -> list[tuple[str, click.Command]]:
    from oore.cli.client import cli as client
    from oore.cli.daemon import cli as daemon

    return [("oore", client), ("oored", daemon)]


def walk(
    command: click.Command, name: str, parent: click.Context | None = None
) -> Iterator[tuple[click.Context, click.Command]]:
    """Every visible command under `command`, depth first, each with a context for its help."""
    settings = dict(command.context_settings)
    if parent is None:
        # click's own formula for the width of help on a terminal of COLUMNS columns.
        limit = settings.get("max_content_width") or 80
        settings["terminal_width"] = max(min(COLUMNS, limit) - 2, 50)
    ctx = click.Context(command, info_name=name, parent=parent, **settings)
    yield ctx, command
    if isinstance(command, click.Group):
        for child in command.list_commands(ctx):
            sub = command.get_command(ctx, child)
            if sub is not None and not sub.hidden:
                yield from walk(sub, child, ctx)


def all_commands() -> list[tuple[str, str]]:
    """(command path, help text) of every command of both programs."""
    return [
        (ctx.command_path, command.get_help(ctx))
        for program, root in programs()
        for ctx, command in walk(root, program)
    ]


def render() -> str:
    parts = [
        "Generated from the commands' own `--help` by `scripts/cli_reference.py`; run it after",
        "changing a command (a test fails while this section is out of date).",
    ]
    for path, text in all_commands():
        level = "###" if " " not in path else "####"
        parts += ["", f"{level} `{path}`", "", "```text", text.rstrip(), "```"]
    return "\n".join(parts)


def replaced(readme: str, section: str) -> str:
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{README} lacks the {START} ... {END} markers")
    return f"{head}{START}\n{section}\n{END}{tail}"


def main(argv: list[str]) -> int:
    readme = README.read_text(encoding="utf-8")
    wanted = replaced(readme, render())
    if "--print" in argv:
        print(render())
        return 0
    if "--check" in argv:
        if wanted != readme:
            print("README.md's CLI reference is out of date: run scripts/cli_reference.py")
            return 1
        return 0
    if wanted != readme:
        README.write_text(wanted, encoding="utf-8")
        print(f"updated the CLI reference in {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
