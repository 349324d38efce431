"""Per-workflow cache: `cache.cache_paths` restored before a build and saved after a success.

Each path is kept as one tar file under `<cache dir>/<repository id>/<workflow>/`, named by a
hash of the path as written in the pipeline (so `$HOME/.pub-cache` and `~/.gradle` stay apart).
Paths are expanded with the build's environment (`$HOME`, `$CM_BUILD_DIR`...). Restoring never
fails a build: a missing or broken archive is a note in the log. Blocking I/O: run in a thread.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Mapping
from pathlib import Path


def _archive(cache_dir: Path, raw: str) -> Path:
    return cache_dir / (hashlib.sha256(raw.encode()).hexdigest()[:16] + ".tar")


def _expand(raw: str, env: Mapping[str, str]) -> Path:
    text = raw.replace("~", env.get("HOME", "~"), 1) if raw.startswith("~") else raw
    for name in sorted(env, key=len, reverse=True):
        text = text.replace("${" + name + "}", env[name]).replace("$" + name, env[name])
    return Path(os.path.normpath(text))


def restore(cache_dir: Path, paths: tuple[str, ...], env: Mapping[str, str]) -> list[str]:
    notes = []
    for raw in paths:
        archive = _archive(cache_dir, raw)
        if not archive.exists():
            notes.append(f"cache {raw}: nothing saved yet")
            continue
        target = _expand(raw, env)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tarfile.open(archive) as tar:
                tar.extractall(target.parent, filter="data")
            notes.append(f"cache {raw}: restored")
        except (OSError, tarfile.TarError) as exc:
            notes.append(f"cache {raw}: not restored ({exc})")
    return notes


def save(cache_dir: Path, paths: tuple[str, ...], env: Mapping[str, str]) -> list[str]:
    notes = []
    cache_dir.mkdir(parents=True, exist_ok=True)
    for raw in paths:
        source = _expand(raw, env)
        if not source.exists():
            notes.append(f"cache {raw}: {source} does not exist, not saved")
            continue
        archive = _archive(cache_dir, raw)
        partial = archive.with_suffix(".partial")
        try:
            with tarfile.open(partial, "w") as tar:
                tar.add(source, arcname=source.name)
            partial.replace(archive)
            notes.append(f"cache {raw}: saved ({archive.stat().st_size} bytes)")
        except (OSError, tarfile.TarError) as exc:
            partial.unlink(missing_ok=True)
            notes.append(f"cache {raw}: not saved ({exc})")
    return notes
