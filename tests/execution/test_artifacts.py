from __future__ import annotations

import hashlib
import os
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
import trio

from oore.execution.artifacts import collect
from oore.execution.identity import BuildUser


def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    ws, export, store = tmp_path / "ws", tmp_path / "export", tmp_path / "artifacts"
    (ws / "out").mkdir(parents=True)
    export.mkdir()
    return ws, export, store


def test_collect_globs_hash_and_clashes(tmp_path: Path) -> None:
    ws, export, store = tmp_path / "ws", tmp_path / "export", tmp_path / "artifacts"
    (ws / "build/a").mkdir(parents=True)
    (ws / "build/b").mkdir(parents=True)
    export.mkdir()
    (ws / "build/a/app.apk").write_bytes(b"one")
    (ws / "build/b/app.apk").write_bytes(b"two")
    (ws / "notes.txt").write_text("hi")
    outside = tmp_path / "secret.txt"
    outside.write_text("do not take")
    os.symlink(outside, ws / "link.txt")
    (export / "report.html").write_text("<p>")
    found = collect(
        "B1",
        ("build/**/*.apk", "*.txt", "../secret.txt", str(export / "*.html")),
        (ws, export),
        store,
    )
    names = sorted(a.name for a in found.artifacts)
    assert names == ["app.apk", "app_1.apk", "notes.txt", "report.html"]
    by_name = {a.name: a for a in found.artifacts}
    assert by_name["app.apk"].sha256 == hashlib.sha256(b"one").hexdigest()
    assert by_name["app_1.apk"].size == 3
    assert by_name["notes.txt"].content_type == "text/plain"
    assert (store / by_name["app_1.apk"].path).read_bytes() == b"two"
    # The symlink leaving the workspace and ../secret.txt: one line for the one reason.
    assert found.notes == [
        f"2 artifacts refused, outside the build: {ws / 'link.txt'}, {outside}",
    ]
    assert not found.stopped


def test_wildcards_keep_globs_rules(tmp_path: Path) -> None:
    ws, export, store = dirs(tmp_path)
    for name in ("out/a.apk", "out/deep/er/b.apk", "out/.hidden.apk", ".git/x.apk", "c.aab"):
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_text(name)
    (export / "sub").mkdir()
    (export / "sub" / "e.txt").write_text("e")
    found = collect("B1", ("**/*.apk", "?.aab", str(export / "**" / "*")), (ws, export), store)
    # `*` and `**` skip hidden names, as glob and the shell do; `?` is one character.
    assert sorted(a.name for a in found.artifacts) == ["a.apk", "b.apk", "c.aab", "e.txt"]


async def test_a_symlink_loop_ends_fast_with_bounded_memory(tmp_path: Path) -> None:
    ws, export, store = dirs(tmp_path)
    (export / "report.txt").write_text("r")
    (export / "sub").mkdir()
    (export / "sub" / "inner.txt").write_text("i")
    # Two links to `.` make glob's `**` branch without end (2^depth paths).
    os.symlink(".", export / "a")
    os.symlink("..", export / "sub" / "up")
    os.symlink(".", export / "b")
    patterns = (str(export / "**" / "*"), "**/*")
    tracemalloc.start()
    started = time.monotonic()
    try:
        with trio.fail_after(10):
            found = await trio.to_thread.run_sync(
                lambda: collect("B1", patterns, (ws, export), store), abandon_on_cancel=True
            )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 2
    assert peak < 5 * 1024 * 1024
    assert sorted(a.name for a in found.artifacts) == ["inner.txt", "report.txt"]


def test_the_walk_is_bounded_and_says_so(tmp_path: Path) -> None:
    ws, export, store = dirs(tmp_path)
    for i in range(50):
        (export / f"f{i:02}.txt").write_text(str(i))
    found = collect("B1", (str(export / "**" / "*"),), (ws, export), store, max_entries=20)
    assert len(found.artifacts) == 20
    assert len(found.notes) == 1
    assert found.notes[0].startswith("artifact search stopped after 20 files and directories")
    assert not found.stopped


def test_a_hard_link_to_a_file_outside_is_refused(tmp_path: Path) -> None:
    ws, export, store = dirs(tmp_path)
    token = tmp_path / "admin-token"
    token.write_text("the admin token")
    os.link(token, ws / "out" / "x.txt")
    (ws / "out" / "app.bin").write_bytes(b"app")
    found = collect("B1", ("out/*",), (ws, export), store)
    assert [a.name for a in found.artifacts] == ["app.bin"]
    assert found.notes == [
        f"artifact {ws / 'out' / 'x.txt'} refused: hard-linked to a file the build does not own"
    ]
    assert not (store / "B1" / "x.txt").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_separate_build_user_may_hard_link_its_own_files(tmp_path: Path) -> None:
    ws, export, store = dirs(tmp_path)
    user = BuildUser("builder", uid=54321, gid=54321, groups=(), home=tmp_path / "home")
    own, roots = tmp_path / "own.txt", tmp_path / "root.txt"
    own.write_text("the build's own")
    roots.write_text("root's")
    os.chown(own, user.uid, user.gid)
    os.link(own, ws / "out" / "own.txt")
    os.link(roots, ws / "out" / "root.txt")
    found = collect("B1", ("out/*",), (ws, export), store, build_user=user)
    assert [a.name for a in found.artifacts] == ["own.txt"]
    assert [note.split(" refused: ")[1] for note in found.notes] == [
        "hard-linked to a file the build does not own"
    ]
    # The daemon's own user is no separate build user: its hard links prove nothing.
    me = BuildUser("me", os.geteuid(), os.getegid(), (), tmp_path / "home")
    os.chown(own, me.uid, me.gid)
    again = collect("B2", ("out/*",), (ws, export), store, build_user=me)
    assert again.artifacts == []


def test_refusals_are_reported_once_per_reason(tmp_path: Path) -> None:
    ws, export, store = dirs(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("no")
    for i in range(5):
        os.symlink(outside, ws / "out" / f"link{i}.txt")
    os.mkfifo(ws / "out" / "pipe.txt")  # O_NONBLOCK: opening it does not hang
    (ws / "out" / "ok.txt").write_text("ok")
    found = collect("B1", ("out/*.txt",), (ws, export), store)
    out = ws / "out"
    assert [a.name for a in found.artifacts] == ["ok.txt"]
    assert found.notes == [
        f"5 artifacts refused, outside the build: {out / 'link0.txt'}, {out / 'link1.txt'}, "
        f"{out / 'link2.txt'} (and 2 more)",
        f"artifact {out / 'pipe.txt'} refused: not a regular file",
    ]


def test_a_set_stop_flag_ends_the_walk(tmp_path: Path) -> None:
    ws, export, store = dirs(tmp_path)
    for i in range(20):
        (ws / "out" / f"{i}.txt").write_text(str(i))
    stop = threading.Event()
    stop.set()
    found = collect("B1", ("out/**/*",), (ws, export), store, stop=stop.is_set)
    assert found.stopped
    assert found.artifacts == []


def test_the_stop_flag_is_checked_between_copy_chunks(tmp_path: Path) -> None:
    ws, export, store = dirs(tmp_path)
    (ws / "out" / "big.bin").write_bytes(b"x" * (5 * 1024 * 1024))
    partial = store / "B1" / "big.bin"
    # Set once the copy has begun: the next chunk must not be copied.
    found = collect("B1", ("out/*",), (ws, export), store, stop=partial.exists)
    assert found.stopped
    assert found.artifacts == []
    assert not partial.exists()  # a partial copy is removed


def test_artifacts_past_the_builds_byte_budget_are_refused(tmp_path: Path) -> None:
    ws, export, store = dirs(tmp_path)
    (ws / "out" / "small.bin").write_bytes(b"x" * 1000)
    with (ws / "out" / "sparse.img").open("wb") as sparse:
        sparse.truncate(10 * 1024**4)  # 10 TiB that would be copied onto the daemon's disk
    found = collect("B1", ("out/*",), (ws, export), store, max_bytes=1024 * 1024)
    assert [a.name for a in found.artifacts] == ["small.bin"]
    assert found.notes == [
        f"artifact {ws / 'out' / 'sparse.img'} refused: over the 20 GiB a build's artifacts "
        "may take in all"
    ]
