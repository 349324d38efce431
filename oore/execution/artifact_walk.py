"""The bounded walk behind artifact patterns: glob's semantics without glob's hazards.

`glob.glob(recursive=True)` follows directory symlinks, so one `ln -s . $CM_EXPORT_DIR/a` makes
`**` recurse until memory runs out, and nothing can stop it. This walk keeps glob's pattern
semantics (`*`, `?`, `[...]` inside one name and never matching a leading dot; `**` for any
number of directories; absolute patterns; `..` in the literal part) but never descends through
a symlink, visits at most `max_entries` directory entries in all, and checks `stop` at every
entry. A pattern is matched component by component (a small set of positions in the pattern per
directory), so a directory no pattern position can match is never opened.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from pathlib import Path

MAX_ENTRIES = 100_000
MAGIC = frozenset("*?[")
Stop = Callable[[], bool]


def never() -> bool:
    return False


class Walk:
    """Matches of successive patterns: real paths inside `real_roots`, each found once."""

    def __init__(self, base: Path, real_roots: tuple[Path, ...], stop: Stop, max_entries: int):
        self.base = base
        self.real_roots = real_roots
        self.stop = stop
        self.left = max_entries
        self.max_entries = max_entries
        self.found: list[tuple[Path, Path]] = []  # (path as matched, real path)
        self.notes: list[str] = []
        self.stopped = False  # `stop` was set
        self.cut_short = False  # `max_entries` were visited
        self._seen: set[Path] = set()

    def matches(self, pattern: str) -> list[str]:
        """Add what `pattern` matches to `found`; return the paths refused as outside."""
        full = pattern if os.path.isabs(pattern) else os.path.join(self.base, pattern)
        parts = [p for p in full.split("/") if p]
        cut = next((i for i, p in enumerate(parts) if MAGIC & set(p)), len(parts))
        prefix = os.path.normpath("/" + "/".join(parts[:cut]))
        if cut == len(parts):
            return self._literal(Path(prefix))
        if not os.path.isdir(prefix):
            return []
        real_prefix = Path(os.path.realpath(prefix))
        if not self._inside(real_prefix):
            return [pattern]
        matched: list[tuple[Path, Path]] = []
        refused: list[str] = []
        for shown, real in self._walk(Path(prefix), real_prefix, tuple(parts[cut:])):
            if real is None:
                refused.append(str(shown))
            else:
                matched.append((shown, real))
        self._add(sorted(matched))
        return sorted(refused)

    def _literal(self, path: Path) -> list[str]:
        if not os.path.lexists(path):
            return []
        real = Path(os.path.realpath(path))
        if not self._inside(real):
            return [str(path)]
        if not real.is_dir():
            self._add([(path, real)])
        return []

    def _inside(self, real: Path) -> bool:
        return any(real.is_relative_to(root) for root in self.real_roots)

    def _add(self, matched: list[tuple[Path, Path]]) -> None:
        for shown, real in matched:
            if real not in self._seen:
                self._seen.add(real)
                self.found.append((shown, real))

    def _walk(
        self, shown: Path, real: Path, pattern: tuple[str, ...]
    ) -> Iterator[tuple[Path, Path | None]]:
        """(path as matched, real path or None when outside) of every non-directory match."""
        pending = [(shown, real, frozenset({0}))]
        while pending and not (self.stopped or self.cut_short):
            shown_dir, real_dir, states = pending.pop()
            for entry in self._entries(real_dir):
                files, subdir = _step(pattern, _closure(pattern, states), entry.name)
                is_dir = entry.is_dir(follow_symlinks=False)
                if is_dir and subdir:
                    pending.append((shown_dir / entry.name, real_dir / entry.name, subdir))
                elif files and not is_dir:
                    target = real_dir / entry.name
                    if entry.is_symlink():
                        target = Path(os.path.realpath(target))
                        if target.is_dir():
                            continue  # as glob's matches of directories: not an artifact
                    yield shown_dir / entry.name, target if self._inside(target) else None

    def _entries(self, directory: Path) -> Iterator[os.DirEntry[str]]:
        try:
            with os.scandir(directory) as listing:
                for entry in listing:
                    if self.stop():
                        self.stopped = True
                        return
                    if self.left <= 0:
                        self._limit()
                        return
                    self.left -= 1
                    yield entry
        except OSError:
            return  # unreadable or gone: nothing to collect there

    def _limit(self) -> None:
        if self.cut_short:
            return
        self.cut_short = True
        self.notes.append(
            f"artifact search stopped after {self.max_entries:,} files and directories: "
            "only what was found until then is kept; narrow the artifact patterns "
            "(or remove links and generated trees from the export dir)"
        )


def _closure(pattern: tuple[str, ...], states: frozenset[int]) -> frozenset[int]:
    # `**` may match no directory at all: the position after it is live too.
    out = set(states)
    for i in sorted(states):
        while i < len(pattern) and pattern[i] == "**":
            i += 1
            out.add(i)
    return frozenset(s for s in out if s < len(pattern))


def _step(
    pattern: tuple[str, ...], states: frozenset[int], name: str
) -> tuple[bool, frozenset[int]]:
    """Whether `name` completes the pattern, and the positions live inside it as a directory."""
    last = len(pattern) - 1
    complete = False
    inner: set[int] = set()
    for i in states:
        part = pattern[i]
        if part == "**":
            if not name.startswith("."):
                inner.add(i)
                complete = complete or i == last
        elif _name_matches(part, name):
            if i == last:
                complete = True
            else:
                inner.add(i + 1)
    return complete, frozenset(inner)


def _name_matches(part: str, name: str) -> bool:
    if name.startswith(".") and not part.startswith("."):
        return False  # as in glob and the shell: wildcards skip hidden names
    return fnmatch.fnmatchcase(name, part)
