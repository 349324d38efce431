"""`when.changeset`: did a watched file change?

Codemagic (https://docs.codemagic.io/yaml-running-builds/starting-builds-automatically/#using-changeset-inside-when):
`includes` defaults to `'.'` (everything), `excludes` to nothing; `'android/'` watches a folder;
`'**/*.md'` means Markdown files anywhere; the pipeline file itself "is always included in the
changeset". A build runs when some changed file is included and not excluded.

Paths are matched from the repository root like git pathspecs: `*` and `?` stay within one
directory, `**` spans directories, and a pattern naming a directory covers everything in it.
`changed_files=None` means the caller cannot tell (a first build, a force-push): the build runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from oore.pipeline.globs import compile_glob

_EVERYTHING = frozenset({"", ".", "**", "**/*"})


def changeset_admits(
    includes: Sequence[str],
    excludes: Sequence[str],
    changed_files: Sequence[str] | None,
    pipeline_file: str | None = None,
) -> bool:
    if changed_files is None:
        return True
    if pipeline_file is not None and pipeline_file in changed_files:
        return True
    watched = includes or (".",)
    return any(
        _any_match(watched, path) and not _any_match(excludes, path) for path in changed_files
    )


def path_matches(pattern: str, path: str) -> bool:
    pattern = _normal(pattern)
    if pattern in _EVERYTHING:
        return True
    path = _normal(path)
    regex = compile_glob(pattern.rstrip("/"), path=True)
    if regex.fullmatch(path):
        return True
    # A match on a leading directory covers the files inside it.
    return any(regex.fullmatch(path[:cut]) for cut in _slashes(path))


def _any_match(patterns: Sequence[str], path: str) -> bool:
    return any(path_matches(pattern, path) for pattern in patterns)


def _normal(text: str) -> str:
    while text.startswith("./"):
        text = text[2:]
    return text.lstrip("/")


def _slashes(path: str) -> list[int]:
    return [index for index, char in enumerate(path) if char == "/"]
