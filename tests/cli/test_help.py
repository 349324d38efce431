"""Every `oore` command's `--help` shows an example; usage errors and `--help` itself behave as
documented; `oore --help` starts without loading trio, httpx or rich. (`oored`'s commands are
checked by test_oored_help.py.)"""

from __future__ import annotations

import re
import sys

import trio

from oore.cli.client.errors import ExitCode
from tests.cli.harness import Oore
from tests.cli.test_reference import generator

EXAMPLE = re.compile(r"^  Example:\n((?:      \S.*\n)+)", re.M)


def examples(text: str, program: str) -> list[str]:
    found = EXAMPLE.search(text + "\n")
    assert found, f"no Example: section in\n{text}"
    lines = [line.strip() for line in found.group(1).splitlines()]
    assert lines
    # An example is a command line of this program (a leading VAR=value is allowed).
    for line in lines:
        assert re.match(rf"(?:[A-Z_]+=\S+ )*(?:export \w+=\$\()?{program} ", line), line
    return lines


def test_every_oore_command_help_has_an_example() -> None:
    found = [(path, text) for path, text in generator().all_commands() if path.startswith("oore ")]
    assert len(found) >= 40
    for path, text in found:
        assert text.startswith(f"Usage: {path} ")
        examples(text, "oore")


async def test_the_executable_prints_that_same_help(oore: Oore) -> None:
    rendered = dict(generator().all_commands())
    for path in ("oore", "oore build", "oore build trigger", "oore secrets set", "oore login"):
        result = await oore(
            *path.split()[1:], "--help", env={"COLUMNS": "102"}
        )  # click keeps 2 columns free
        assert result.code == 0, result.err
        assert result.out.rstrip() == rendered[path].rstrip()
        assert examples(result.out, "oore")


async def test_top_level_help_documents_every_exit_code(oore: Oore) -> None:
    result = await oore("--help")
    assert result.code == 0
    for code in ExitCode:
        assert re.search(rf"^    {int(code)} +\S", result.out, re.M), code


async def test_usage_errors_exit_6_with_usage_on_stderr(oore: Oore) -> None:
    result = await oore("build", "trigger")
    assert result.code == ExitCode.INVALID
    assert "Usage: oore build trigger" in result.err
    assert "Missing argument 'REPO'" in result.err
    unknown = await oore("build", "trigger", "x/y", "-w", "ok", "--wiat")
    assert unknown.code == ExitCode.INVALID  # not 2: that code means "the build errored"
    assert "No such option '--wiat'" in unknown.err


async def test_help_and_version_do_not_load_trio_httpx_or_rich(oore: Oore) -> None:
    # Start-up time: these three are most of what a command costs to import.
    for args in (["--help"], ["build", "trigger", "--help"], ["--version"]):
        done = await trio.run_process(
            [sys.executable, "-X", "importtime", "-m", "oore.cli.client", *args],
            capture_stdout=True,
            capture_stderr=True,
            env=oore.environ(),
        )
        imported = {line.split("|")[-1].strip() for line in done.stderr.decode().splitlines()}
        assert not {"trio", "httpx", "rich"} & imported, args
        assert done.returncode == 0
    version = await oore("--version")
    assert version.out.startswith("oore, version ")
