"""Reading files and changes at a commit straight from the mirror."""

from __future__ import annotations

import pytest

from oore.git import (
    MAX_FILE_BYTES,
    GitError,
    Mirror,
    RefNotFound,
    changed_files,
    fetch,
    first_existing,
    read_file,
)

from .conftest import BIG, Upstream

PIPELINE_FILES = ["oore.yaml", ".oore.yaml", "codemagic.yaml", ".codemagic.yaml", "codemagic.yml"]


@pytest.fixture
async def fetched(mirror: Mirror, upstream: Upstream) -> Upstream:
    await fetch(mirror, ["refs/heads/main", "refs/heads/feature"])
    return upstream


async def test_read_file_at_a_commit(mirror: Mirror, fetched: Upstream) -> None:
    a, b = fetched.commits["A"], fetched.commits["B"]
    assert await read_file(mirror, a, "src/app.txt") == b"v1\n"
    assert await read_file(mirror, b, "src/app.txt") == b"v2\n"
    assert await read_file(mirror, b, "README.md") == b"hello\n"


async def test_read_file_absent_is_none(mirror: Mirror, fetched: Upstream) -> None:
    a = fetched.commits["A"]
    assert await read_file(mirror, a, "oore.yaml") is None  # only added in B
    assert await read_file(mirror, a, "src") is None  # a directory is not a file
    assert await read_file(mirror, a, "src/nope.txt") is None
    assert await read_file(mirror, a, "*.yaml") is None  # a name, never a pattern


async def test_read_file_at_an_unfetched_commit_is_an_error(
    mirror: Mirror, upstream: Upstream
) -> None:
    with pytest.raises(RefNotFound, match="fetch it first"):
        await read_file(mirror, upstream.commits["A"], "README.md")


async def test_read_file_refuses_files_over_the_limit(mirror: Mirror, fetched: Upstream) -> None:
    a = fetched.commits["A"]
    assert len(BIG) == MAX_FILE_BYTES + 1
    with pytest.raises(GitError, match=f"big.bin at commit {a[:12]} is {len(BIG)} bytes"):
        await read_file(mirror, a, "big.bin")
    assert await read_file(mirror, a, "big.bin", max_bytes=len(BIG)) == BIG


async def test_first_existing_follows_the_candidates_order(
    mirror: Mirror, fetched: Upstream
) -> None:
    a, b = fetched.commits["A"], fetched.commits["B"]
    assert await first_existing(mirror, b, PIPELINE_FILES) == ("oore.yaml", b"oore\n")
    assert await first_existing(mirror, b, PIPELINE_FILES[::-1]) == (
        "codemagic.yaml",
        b"workflows: {}\n",
    )
    assert await first_existing(mirror, a, PIPELINE_FILES) == ("codemagic.yaml", b"workflows: {}\n")
    assert await first_existing(mirror, a, ["src", "docs/guide.md", "nope"]) is None
    assert await first_existing(mirror, a, []) is None


async def test_changed_files_between_two_commits(mirror: Mirror, fetched: Upstream) -> None:
    a, b = fetched.commits["A"], fetched.commits["B"]
    assert await changed_files(mirror, a, b) == ["docs/guide.md", "oore.yaml", "src/app.txt"]
    assert await changed_files(mirror, b, b) == []


async def test_changed_files_of_a_pull_request_ignore_the_target_branch(
    mirror: Mirror, fetched: Upstream
) -> None:
    # base = the target branch head (B), head = the PR head (F), forked at A: only F's change,
    # not the files main changed meanwhile (a two-dot diff would list those as well).
    b, f = fetched.commits["B"], fetched.commits["F"]
    assert await changed_files(mirror, b, f) == ["src/feature.txt"]


async def test_changed_files_lists_both_names_of_a_rename(
    mirror: Mirror, fetched: Upstream
) -> None:
    b = fetched.commits["B"]
    await fetched.git("mv", "docs/guide.md", "docs/manual.md")
    renamed = await fetched.commit("R", {})
    await fetch(mirror, ["refs/heads/main"])
    assert await changed_files(mirror, b, renamed) == ["docs/guide.md", "docs/manual.md"]


async def test_changed_files_unknown_when_the_base_is(mirror: Mirror, fetched: Upstream) -> None:
    b = fetched.commits["B"]
    assert await changed_files(mirror, None, b) is None
    assert await changed_files(mirror, "0" * 40, b) is None  # a new branch's "before"
    assert await changed_files(mirror, "e" * 40, b) is None  # never fetched


async def test_changed_files_unknown_for_unrelated_histories(
    mirror: Mirror, fetched: Upstream
) -> None:
    tree = await fetched.git("rev-parse", "HEAD^{tree}")
    orphan = await fetched.git("commit-tree", "-m", "orphan", tree)
    await fetched.git("update-ref", "refs/heads/orphan", orphan)
    await fetch(mirror, ["refs/heads/orphan"])
    assert await changed_files(mirror, fetched.commits["B"], orphan) is None


async def test_changed_files_with_an_unfetched_head_is_an_error(
    mirror: Mirror, fetched: Upstream
) -> None:
    with pytest.raises(RefNotFound, match="fetch it first"):
        await changed_files(mirror, fetched.commits["A"], "e" * 40)
