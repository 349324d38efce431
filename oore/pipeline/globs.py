"""Shell-style wildcard patterns compiled to regular expressions, case-sensitive.

Codemagic's branch and tag patterns follow wcmatch's fnmatch
(https://docs.codemagic.io/yaml-running-builds/starting-builds-automatically/#pattern-examples):
`*`, `?`, `[a-z]`/`[!a-z]`, braces `{test,qa}/*` and the extended forms `?(x)`, `*(x)`, `+(x)`,
`@(x)`, `!(x)` (as in `!(*-dev)` and `v+([0-9]).+([0-9])`). In name mode `*` also matches `/`
(branch names are names, not paths). In path mode (changesets) `*` and `?` stay inside one
directory and `**` spans any number of them, so `**/*.md` is every Markdown file.
"""

from __future__ import annotations

import functools
import re

MAX_NEGATIONS = 4  # each !( ) copies the rest of the pattern into a look-ahead
_REPEAT = {"?": "?", "*": "*", "+": "+", "@": ""}
_OPENERS = {"(": ")", "{": "}", "[": "]"}


class PatternError(ValueError):
    """The pattern cannot be compiled; the message says why."""


@functools.lru_cache(maxsize=1024)
def compile_glob(pattern: str, *, path: bool = False) -> re.Pattern[str]:
    if pattern.count("!(") > MAX_NEGATIONS:
        raise PatternError(f"more than {MAX_NEGATIONS} !( ) groups")
    try:
        return re.compile(_translate(pattern, path), re.DOTALL)
    except (re.error, RecursionError) as exc:
        raise PatternError(f"not a valid pattern: {exc}") from exc


def matches(pattern: str, value: str, *, path: bool = False) -> bool:
    return compile_glob(pattern, path=path).fullmatch(value) is not None


def _translate(pattern: str, path: bool) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        piece, i = _piece(pattern, i, path)
        out.append(piece)
    return "".join(out)


def _piece(p: str, i: int, path: bool) -> tuple[str, int]:
    """The regex for the token starting at `i`, and where the next token starts."""
    c = p[i]
    if c == "\\" and i + 1 < len(p):
        return re.escape(p[i + 1]), i + 2
    if c in "?*+@!" and p.startswith("(", i + 1):
        group = _extglob(p, i, path)
        if group is not None:
            return group
    if c == "*":
        return _star(p, i, path)
    if c == "?":
        return ("[^/]" if path else "."), i + 1
    if c == "[":
        found = _char_class(p, i)
        if found is not None:
            return found
    if c == "{":
        found = _braces(p, i, path)
        if found is not None:
            return found
    return re.escape(c), i + 1


def _star(p: str, i: int, path: bool) -> tuple[str, int]:
    if not path:
        return ".*", i + 1
    if p.startswith("**", i):
        if p.startswith("/", i + 2):
            return "(?:.*/)?", i + 3
        return ".*", i + 2
    return "[^/]*", i + 1


def _extglob(p: str, i: int, path: bool) -> tuple[str, int] | None:
    close = _find_close(p, i + 1)
    if close < 0:
        return None
    body = "|".join(_translate(alt, path) for alt in _split_top(p[i + 2 : close], "|"))
    if p[i] != "!":
        return f"(?:{body}){_REPEAT[p[i]]}", close + 1
    rest = _translate(p[close + 1 :], path)
    anything = "[^/]*?" if path else ".*?"
    return f"(?:(?!(?:{body}){rest}\\Z){anything})", close + 1


def _braces(p: str, i: int, path: bool) -> tuple[str, int] | None:
    close = _find_close(p, i)
    if close < 0:
        return None
    alternatives = _split_top(p[i + 1 : close], ",")
    if len(alternatives) < 2:
        return None
    return "(?:" + "|".join(_translate(alt, path) for alt in alternatives) + ")", close + 1


def _char_class(p: str, i: int) -> tuple[str, int] | None:
    j = i + 1
    negate = p.startswith(("!", "^"), j)
    if negate:
        j += 1
    first = j
    if p.startswith("]", j):
        j += 1
    end = p.find("]", j)
    if end < 0:
        return None
    body = _class_body(p[first:end])
    if not body:
        return ("." if negate else "(?!)"), end + 1
    return f"[{'^' if negate else ''}{body}]", end + 1


def _class_body(content: str) -> str:
    # Escape everything but real ranges: "[[", "--", "&&" or "||" would otherwise be read as
    # the set operations Python reserves (and warns about).
    out: list[str] = []
    k = 0
    while k < len(content):
        if k + 2 < len(content) and content[k + 1] == "-":
            low, high = content[k], content[k + 2]
            if low <= high:
                out.append(f"{re.escape(low)}-{re.escape(high)}")
            k += 3
        else:
            out.append(re.escape(content[k]))
            k += 1
    return "".join(out)


def _find_close(p: str, start: int) -> int:
    """Index of the bracket closing the one at `start`, or -1."""
    stack = [_OPENERS[p[start]]]
    k = start + 1
    while k < len(p):
        c = p[k]
        if c == "\\":
            k += 2
            continue
        if c in _OPENERS:
            stack.append(_OPENERS[c])
        elif c == stack[-1]:
            stack.pop()
            if not stack:
                return k
        k += 1
    return -1


def _split_top(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    start = 0
    k = 0
    while k < len(text):
        c = text[k]
        if c == "\\":
            k += 2
            continue
        if c in _OPENERS:
            depth += 1
        elif c in ")}]":
            depth = max(depth - 1, 0)
        elif c == separator and depth == 0:
            parts.append(text[start:k])
            start = k + 1
        k += 1
    parts.append(text[start:])
    return parts
