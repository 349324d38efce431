"""The one reader of env files: `KEY=value` lines, as the daemon's settings, `oored init`,
`oored install` and the client's `oore secrets set --from-env-file` all read them.

Accepted: blank lines, `#` comment lines, an optional `export ` prefix, spaces around `=`, and a
value that is bare (the line's trailing spaces dropped) or wholly in single or double quotes (no
escapes). Nothing is interpolated. A malformed line is reported by its number only, since it may
hold a secret, and every malformed line is reported at once. This module imports nothing from
Oore but its errors, so the client can use it without the daemon's dependencies.
"""

from __future__ import annotations

import re
from pathlib import Path

from oore.errors import ConfigError

_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")
MALFORMED = "expected KEY=value, KEY='value' or KEY=\"value\""


def parse_env_file(path: Path, *, unreadable_hint: str = "") -> dict[str, str]:
    """The file's values (the last of a repeated key wins); one ConfigError naming every bad line.

    `unreadable_hint` ends the message when the file exists but may not be read.
    """
    values, errors = parse_env_text(path, read_env_file(path, unreadable_hint=unreadable_hint))
    if errors:
        raise ConfigError("\n".join(errors))
    return values


def read_env_file(path: Path, *, unreadable_hint: str = "") -> str:
    try:
        # utf-8-sig: editors on macOS and Windows sometimes save a byte-order mark.
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the env file is not valid UTF-8") from None
    except OSError as exc:
        hint = unreadable_hint if isinstance(exc, PermissionError) else ""
        raise ConfigError(f"{path}: cannot read the env file ({exc.strerror}){hint}") from None


def parse_env_text(path: Path, text: str) -> tuple[dict[str, str], list[str]]:
    """The values, and one `path:line: ...` problem per malformed line (so callers can merge
    them with problems of their own)."""
    values: dict[str, str] = {}
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = _parse_line(line)
        if entry is None:
            errors.append(f"{path}:{number}: {MALFORMED}")
        elif entry:
            values[entry[0]] = entry[1]
    return values, errors


def _parse_line(line: str) -> tuple[str, str] | tuple[()] | None:
    """(key, value) for a setting, () for a blank or comment line, None for a malformed one."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return ()
    match = _LINE.fullmatch(stripped)
    if match is None:
        return None
    value = _unquote(match.group(2))
    return None if value is None else (match.group(1), value)


def _unquote(value: str) -> str | None:
    if value[:1] in ("'", '"'):
        if len(value) < 2 or value[-1] != value[0]:
            return None
        return value[1:-1]
    return value
