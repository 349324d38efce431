"""Handing a workspace to the build user, and taking it back, as root."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from oore.execution.identity import named_user
from oore.execution.isolation import hand_over, take_back


def _tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f.txt").write_text("x")
    (root / "top.txt").write_text("y")
    os.symlink("/etc/passwd", root / "link")


def test_the_workspace_root_is_given_last_and_closed_until_then(
    shared_tmp: Path, build_user_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = named_user(build_user_name, shared_tmp / "home")
    workspace = shared_tmp / "ws"
    workspace.mkdir(mode=0o755)
    _tree(workspace)
    seen: list[tuple[int, int]] = []
    chown = os.chown

    def watched(*args: object, **kwargs: object) -> None:
        # While any file inside is given away, nobody but the daemon may enter the tree:
        # a build could otherwise swap a directory for a link under the walk.
        info = os.stat(workspace)
        seen.append((info.st_uid, stat.S_IMODE(info.st_mode)))
        chown(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "chown", watched)
    hand_over(workspace, user)
    monkeypatch.undo()
    assert len(seen) == 5
    assert set(seen) == {(0, 0o700)}
    for path in (workspace, workspace / "a" / "b" / "f.txt", workspace / "top.txt"):
        assert path.lstat().st_uid == user.uid
    assert (workspace / "link").lstat().st_uid == user.uid
    assert Path("/etc/passwd").stat().st_uid == 0  # the link's target is not touched


def test_a_kept_workspace_is_taken_back(shared_tmp: Path, build_user_name: str) -> None:
    user = named_user(build_user_name, shared_tmp / "home")
    workspace = shared_tmp / "ws"
    workspace.mkdir()
    _tree(workspace)
    hand_over(workspace, user)
    take_back(workspace, user)
    info = workspace.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.geteuid(), 0o700)
