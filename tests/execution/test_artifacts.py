from __future__ import annotations

import hashlib
import os
from pathlib import Path

from oore.execution.artifacts import collect


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
    assert len(found.refused) == 2  # the symlink leaving the workspace and ../secret.txt
    assert all("outside the build" in note for note in found.refused)
