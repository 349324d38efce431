"""Reading a commit from the mirror without a checkout: files, the pipeline file lookup, changes.

Files are looked up with one ``git ls-tree`` (which also gives their sizes, so an oversized file
is refused before it is read) and read with ``git cat-file blob``. Only regular files count:
a directory, symlink or submodule under a candidate's name is "not there".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from oore.git.errors import GitError
from oore.git.mirror import Mirror, has_commit, missing_commit
from oore.git.names import check_sha
from oore.git.process import failure, git_output, run_git

MAX_FILE_BYTES = 1 << 20
_REGULAR = {"100644", "100755"}


async def read_file(
    mirror: Mirror, sha: str, path: str, *, max_bytes: int = MAX_FILE_BYTES
) -> bytes | None:
    """The content of `path` at commit `sha`, or None when no such file exists there."""
    found = await first_existing(mirror, sha, [path], max_bytes=max_bytes)
    return None if found is None else found[1]


async def first_existing(
    mirror: Mirror, sha: str, candidates: Sequence[str], *, max_bytes: int = MAX_FILE_BYTES
) -> tuple[str, bytes] | None:
    """The first of `candidates` (paths from the repository root) that is a file at `sha`."""
    files = await _regular_files(mirror, check_sha(sha), candidates)
    path = next((candidate for candidate in candidates if candidate in files), None)
    if path is None:
        return None
    blob, size = files[path]
    if size > max_bytes:
        raise GitError(
            f"{path} at commit {sha[:12]} is {size} bytes, over the {max_bytes}-byte limit "
            "Oore reads; make the file smaller."
        )
    content = await git_output(["--git-dir", str(mirror.path), "cat-file", "blob", blob], path)
    return path, content


async def _regular_files(
    mirror: Mirror, sha: str, paths: Sequence[str]
) -> dict[str, tuple[str, int]]:
    """path → (blob id, size) for those of `paths` that are regular files at `sha`."""
    if not paths:
        return {}
    args = ["--git-dir", str(mirror.path), "--literal-pathspecs", "ls-tree", "-z", "--long"]
    result = await run_git([*args, sha, "--", *paths])
    if result.returncode != 0:
        await _missing_commit(mirror, sha, failure(f"listing files at {sha[:12]}", result))
    entries = (_regular_file(entry) for entry in result.stdout.split(b"\0") if entry)
    return {name: (blob, size) for name, blob, size in filter(None, entries)}


def _regular_file(entry: bytes) -> tuple[str, str, int] | None:
    """(path, blob id, size) from an `ls-tree --long` entry, None unless a regular file."""
    meta, _, name = entry.decode("utf-8", errors="replace").partition("\t")
    mode, kind, blob, size = meta.split()
    return (name, blob, int(size)) if kind == "blob" and mode in _REGULAR else None


async def _missing_commit(mirror: Mirror, sha: str, message: str) -> NoReturn:
    """Raise RefNotFound when `sha` is not in the mirror, else GitError(`message`)."""
    if not await has_commit(mirror, sha):
        raise missing_commit(mirror, sha)
    raise GitError(message)


async def changed_files(mirror: Mirror, base_sha: str | None, head_sha: str) -> list[str] | None:
    """Paths changed on `head_sha` since it forked from `base_sha` (``git diff base...head``).

    None means "unknown, assume everything changed": no base (a new branch), a base the mirror
    does not hold (force-pushed away, never fetched), or histories with no common ancestor.
    Renames count as a deletion plus an addition, so both names are listed.
    """
    if base_sha is None or not await has_commit(mirror, base_sha):
        return None
    fork = await _merge_base(mirror, base_sha, check_sha(head_sha))
    if fork is None:
        return None
    args = ["--git-dir", str(mirror.path), "diff-tree", "-r", "-z", "--name-only", "--no-renames"]
    out = await git_output([*args, fork, head_sha], f"listing changes {fork[:12]}..{head_sha[:12]}")
    return [name for name in out.decode("utf-8", errors="replace").split("\0") if name]


async def _merge_base(mirror: Mirror, base_sha: str, head_sha: str) -> str | None:
    args = ["--git-dir", str(mirror.path), "merge-base", base_sha, head_sha]
    result = await run_git(args)
    if result.returncode == 1 and not result.stderr.strip():
        return None  # no common ancestor
    if result.returncode != 0:
        await _missing_commit(mirror, head_sha, failure("finding where the commits fork", result))
    return result.stdout.decode().strip()
