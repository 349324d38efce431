"""Mirrors: creation, fetching branches, tags, PR refs and shas, failures and time bounds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio

from oore.errors import NotFound
from oore.git import (
    FetchError,
    GitError,
    Mirror,
    RefNotFound,
    ensure_mirror,
    fetch,
    has_commit,
    resolve,
)

from .conftest import Upstream, git


async def test_ensure_mirror_creates_a_bare_repository(tmp_path: Path, upstream: Upstream) -> None:
    mirror = await ensure_mirror(tmp_path / "mirrors", "01HZX", upstream.url)
    assert mirror.path == tmp_path / "mirrors" / "01HZX.git"
    assert await git(mirror.path, "rev-parse", "--is-bare-repository") == "true"
    assert await git(mirror.path, "config", "remote.origin.url") == upstream.url


async def test_ensure_mirror_is_idempotent_and_follows_the_url(
    mirror: Mirror, upstream: Upstream, tmp_path: Path
) -> None:
    await fetch(mirror, ["refs/heads/main"])
    again = await ensure_mirror(tmp_path / "mirrors", "repo1", upstream.url)
    assert again == mirror
    assert await resolve(again, "refs/heads/main") == upstream.commits["B"]  # objects kept

    moved = await ensure_mirror(tmp_path / "mirrors", "repo1", "https://example.com/new.git")
    assert moved.path == mirror.path
    assert await git(mirror.path, "config", "--get-all", "remote.origin.url") == (
        "https://example.com/new.git"
    )


@pytest.mark.parametrize("repository_id", ["../escape", "a/b", ".hidden", ""])
async def test_ensure_mirror_refuses_ids_that_are_not_plain_names(
    tmp_path: Path, repository_id: str
) -> None:
    with pytest.raises(GitError, match="cannot name a mirror directory"):
        await ensure_mirror(tmp_path / "mirrors", repository_id, "https://example.com/r.git")
    assert not (tmp_path / "mirrors").exists()


async def test_fetch_a_branch_and_resolve_it(mirror: Mirror, upstream: Upstream) -> None:
    await fetch(mirror, ["refs/heads/main"])
    assert await resolve(mirror, "refs/heads/main") == upstream.commits["B"]
    assert await resolve(mirror, "main") == upstream.commits["B"]
    assert await resolve(mirror, upstream.commits["A"]) == upstream.commits["A"]
    with pytest.raises(RefNotFound):  # only what was asked: no tags, no other branches
        await resolve(mirror, "refs/tags/v1.0")
    with pytest.raises(RefNotFound):
        await resolve(mirror, "refs/heads/feature")


async def test_fetch_follows_a_force_push(mirror: Mirror, upstream: Upstream) -> None:
    await fetch(mirror, ["refs/heads/main"])
    await upstream.git("reset", "-q", "--hard", upstream.commits["A"])
    await fetch(mirror, ["refs/heads/main"])
    assert await resolve(mirror, "refs/heads/main") == upstream.commits["A"]


async def test_fetch_tags_lightweight_and_annotated(mirror: Mirror, upstream: Upstream) -> None:
    await fetch(mirror, ["refs/tags/v1.0", "refs/tags/v2.0"])
    assert await resolve(mirror, "refs/tags/v1.0") == upstream.commits["A"]
    assert await resolve(mirror, "v2.0") == upstream.commits["B"]  # peeled to the commit
    assert await git(mirror.path, "cat-file", "-t", "refs/tags/v2.0") == "tag"


async def test_fetch_a_pull_request_ref(mirror: Mirror, upstream: Upstream) -> None:
    await fetch(mirror, ["refs/pull/1/head"])
    assert await resolve(mirror, "refs/pull/1/head") == upstream.commits["F"]


async def test_fetch_a_commit_by_sha(mirror: Mirror, upstream: Upstream) -> None:
    sha = upstream.commits["F"]
    assert not await has_commit(mirror, sha)
    await fetch(mirror, [sha])
    assert await has_commit(mirror, sha)
    assert not await has_commit(
        mirror, upstream.commits["B"]
    )  # not an ancestor of F: only its history came


async def test_fetch_an_unknown_sha_tries_all_branches_then_explains(
    mirror: Mirror, upstream: Upstream
) -> None:
    sha = "1" * 40
    with pytest.raises(FetchError, match=f"commit {sha} is not in {upstream.url}"):
        await fetch(mirror, [sha])
    assert await resolve(mirror, "refs/heads/feature") == upstream.commits["F"]  # the fallback


async def test_fetch_an_unknown_ref_says_so(mirror: Mirror) -> None:
    with pytest.raises(FetchError) as failed:
        await fetch(mirror, ["refs/heads/nope"])
    message = failed.value.message
    assert "fetch of refs/heads/nope from file://" in message
    assert "couldn't find remote ref refs/heads/nope" in message


@pytest.mark.parametrize("ref", ["main", "refs/heads/a:b", "+refs/heads/x", "refs/heads/*", "-x"])
async def test_fetch_refuses_what_is_not_a_full_ref_or_sha(tmp_path: Path, ref: str) -> None:
    mirror = await ensure_mirror(tmp_path, "r", "https://example.com/r.git")
    with pytest.raises(GitError, match="is not a full ref name"):
        await fetch(mirror, [ref])


async def test_fetch_from_a_missing_repository_fails_fast(tmp_path: Path) -> None:
    mirror = await ensure_mirror(tmp_path, "gone", (tmp_path / "no-such-repo").as_uri())
    started = time.monotonic()
    with pytest.raises(FetchError, match="does not appear to be a git repository"):
        await fetch(mirror, ["refs/heads/main"])
    assert time.monotonic() - started < 5


async def test_fetch_errors_never_show_credentials(tmp_path: Path) -> None:
    closed = trio.socket.socket()
    await closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused at once
    mirror = await ensure_mirror(tmp_path, "r", f"http://bob:s3cret@127.0.0.1:{port}/r.git")
    with pytest.raises(FetchError) as failed:
        await fetch(mirror, ["refs/heads/main"], timeout=10)
    assert f"http://127.0.0.1:{port}/r.git" in failed.value.message
    assert "s3cret" not in str(failed.value)
    assert "bob" not in str(failed.value)


async def test_fetch_from_a_silent_server_times_out(tmp_path: Path) -> None:
    silent = trio.socket.socket()
    await silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # the kernel completes the handshake; nobody ever answers
    port = silent.getsockname()[1]
    mirror = await ensure_mirror(tmp_path, "r", f"git://127.0.0.1:{port}/x.git")
    started = time.monotonic()
    with silent, pytest.raises(FetchError, match=r"timed out after 0\.5 s"):
        await fetch(mirror, ["refs/heads/main"], timeout=0.5)
    assert time.monotonic() - started < 3


async def test_two_mirrors_fetch_at_once(tmp_path: Path, upstream: Upstream) -> None:
    other = Upstream(tmp_path / "other")
    await git(tmp_path, "init", "-q", "-b", "main", str(other.path))
    await other.commit("X", {"x.txt": b"x\n"})
    first = await ensure_mirror(tmp_path / "mirrors", "first", upstream.url)
    second = await ensure_mirror(tmp_path / "mirrors", "second", other.url)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fetch, first, ["refs/heads/main"])
        nursery.start_soon(fetch, second, ["refs/heads/main"])
    assert await resolve(first, "refs/heads/main") == upstream.commits["B"]
    assert await resolve(second, "refs/heads/main") == other.commits["X"]


async def test_resolve_an_absent_ref_is_not_found(mirror: Mirror) -> None:
    with pytest.raises(RefNotFound, match="'refs/heads/main' names no commit") as failed:
        await resolve(mirror, "refs/heads/main")
    assert isinstance(failed.value, NotFound)
    assert failed.value.status == 404
