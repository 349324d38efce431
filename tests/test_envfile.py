"""The one env-file parser: a test per rule of the syntax, per kind of bad line, per way a file
cannot be read; and that the client can use it without loading the daemon's dependencies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oore.envfile import MALFORMED, parse_env_file, parse_env_text
from oore.errors import ConfigError

HERE = Path("oore.env")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("", {}, id="blank line"),
        pytest.param("   \t", {}, id="whitespace-only line"),
        pytest.param("# OORE_BIND=1.2.3.4:5", {}, id="comment line"),
        pytest.param("   # indented", {}, id="indented comment line"),
        pytest.param("KEY=value", {"KEY": "value"}, id="bare value"),
        pytest.param("_K3Y=1", {"_K3Y": "1"}, id="underscore and digits in the key"),
        pytest.param("export KEY=1", {"KEY": "1"}, id="export prefix"),
        pytest.param("export\tKEY=1", {"KEY": "1"}, id="export prefix with a tab"),
        pytest.param("export=1", {"export": "1"}, id="a key named export"),
        pytest.param("  KEY = padded  ", {"KEY": "padded"}, id="spaces around = and the line"),
        pytest.param("KEY='two words'", {"KEY": "two words"}, id="single quotes"),
        pytest.param('KEY="$HOME x"', {"KEY": "$HOME x"}, id="double quotes, no interpolation"),
        pytest.param("KEY=' padded '", {"KEY": " padded "}, id="quotes keep inner spaces"),
        pytest.param("KEY='a\"b'", {"KEY": 'a"b'}, id="other quote inside quotes"),
        pytest.param("KEY=a'b", {"KEY": "a'b"}, id="quote inside a bare value"),
        pytest.param("KEY=abc#def", {"KEY": "abc#def"}, id="hash inside a value"),
        pytest.param("KEY=x # not a comment", {"KEY": "x # not a comment"}, id="no end comment"),
        pytest.param("KEY=a=b=c", {"KEY": "a=b=c"}, id="= inside a value"),
        pytest.param("KEY=", {"KEY": ""}, id="empty value"),
        pytest.param("KEY=''", {"KEY": ""}, id="quoted empty value"),
        pytest.param("KEY=\\n", {"KEY": "\\n"}, id="no escapes"),
    ],
)
def test_accepted_line(line: str, expected: dict[str, str]) -> None:
    assert parse_env_text(HERE, line) == (expected, [])


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("KEY value", id="no ="),
        pytest.param("=value", id="no key"),
        pytest.param("9KEY=1", id="key starting with a digit"),
        pytest.param("MY-KEY=1", id="dash in the key"),
        pytest.param("MY KEY=1", id="space in the key"),
        pytest.param("KEY='open", id="unterminated single quote"),
        pytest.param('KEY="open', id="unterminated double quote"),
        pytest.param("KEY='", id="lone quote"),
        pytest.param("KEY='mixed\"", id="mismatched quotes"),
        pytest.param("KEY='a' trailing", id="text after the closing quote"),
        pytest.param("export KEY", id="export without a value"),
    ],
)
def test_malformed_line_is_named_by_number_only(line: str) -> None:
    values, errors = parse_env_text(HERE, f"GOOD=1\n{line}\n")
    assert values == {"GOOD": "1"}
    assert errors == [f"{HERE}:2: {MALFORMED}"]


def test_malformed_form_is_the_daemons_wording() -> None:
    # The client's copy said NAME=...; the daemon's KEY=... wording is the one kept.
    assert MALFORMED == "expected KEY=value, KEY='value' or KEY=\"value\""


def test_last_of_a_repeated_key_wins() -> None:
    assert parse_env_text(HERE, "KEY=1\nKEY=2\n") == ({"KEY": "2"}, [])


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "oore.env"
    path.write_bytes(b"A=1\r\nB='2'\r\n")
    assert parse_env_file(path) == {"A": "1", "B": "2"}


def test_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "oore.env"
    path.write_bytes("\ufeffA=1\n".encode())
    assert parse_env_file(path) == {"A": "1"}


def test_every_bad_line_is_reported_at_once_without_its_content(tmp_path: Path) -> None:
    # The client's copy stopped at the first bad line; all of them at once is the rule kept.
    path = tmp_path / "oore.env"
    path.write_text("A=1\nhunter2 secret\nB=2\nC='hunter2\n")
    with pytest.raises(ConfigError) as info:
        parse_env_file(path)
    assert info.value.message.splitlines() == [f"{path}:2: {MALFORMED}", f"{path}:4: {MALFORMED}"]
    assert "hunter2" not in info.value.message


def test_invalid_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "oore.env"
    path.write_bytes(b"A=\xff\xfehunter2\n")
    with pytest.raises(ConfigError) as info:
        parse_env_file(path)
    assert info.value.message == f"{path}: the env file is not valid UTF-8"


def test_unreadable_file_says_why(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        parse_env_file(tmp_path, unreadable_hint="; never shown for a directory")
    assert info.value.message == f"{tmp_path}: cannot read the env file (Is a directory)"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_permission_denied_gets_the_callers_hint(tmp_path: Path) -> None:
    path = tmp_path / "oore.env"
    path.write_text("A=1\n")
    path.chmod(0)
    with pytest.raises(ConfigError) as info:
        parse_env_file(path, unreadable_hint="; run as its owner")
    assert info.value.message == (
        f"{path}: cannot read the env file (Permission denied); run as its owner"
    )
    with pytest.raises(ConfigError) as plain:
        parse_env_file(path)
    assert plain.value.message.endswith("(Permission denied)")


def test_the_client_reads_env_files_without_the_daemons_dependencies() -> None:
    code = (
        "import json, sys; import oore.cli.client.app, oore.cli.client.commands.secrets; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stdout))
    assert "oore.envfile" in loaded
    heavy = {"cryptography", "oore.config", "oore.crypto", "sqlite_utils", "quart", "hypercorn"}
    assert not heavy & loaded
