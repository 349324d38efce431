"""Artifact collection: the workflow's globs, confined to the build's directories.

A pattern is resolved inside the workspace (or the export dir); a match whose real path leaves
those directories — through `..` or a symlink — is refused and reported, never copied. Copies go
to `<artifacts dir>/<build id>/`, a clashing name gets `_1`, `_2`… before its extension, and each
file is hashed (sha256) while it is copied. Runs in a worker thread: pure blocking I/O.
"""

from __future__ import annotations

import glob
import hashlib
import mimetypes
import shutil
from dataclasses import dataclass
from pathlib import Path

from oore.ids import new_id
from oore.model import Artifact, utcnow

CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Collected:
    artifacts: list[Artifact]
    refused: list[str]  # human-readable notes for the build log


def collect(
    build_id: str,
    patterns: tuple[str, ...],
    roots: tuple[Path, ...],
    artifacts_dir: Path,
) -> Collected:
    dest = artifacts_dir / build_id
    taken: set[str] = set()
    found: list[Artifact] = []
    refused: list[str] = []
    for path, note in _matches(patterns, roots):
        if note is not None:
            refused.append(note)
            continue
        name = _free_name(path.name, taken)
        found.append(_copy(build_id, path, dest, name, artifacts_dir))
    return Collected(found, refused)


def _matches(patterns: tuple[str, ...], roots: tuple[Path, ...]) -> list[tuple[Path, str | None]]:
    real_roots = [root.resolve() for root in roots]
    seen: set[Path] = set()
    results: list[tuple[Path, str | None]] = []
    for pattern in patterns:
        base = roots[0]
        full = pattern if Path(pattern).is_absolute() else str(base / pattern)
        for match in sorted(glob.glob(full, recursive=True)):
            path = Path(match)
            if path.is_dir() or path in seen:
                continue
            seen.add(path)
            real = path.resolve()
            if not any(real.is_relative_to(root) for root in real_roots):
                results.append((path, f"artifact {match} refused: it is outside the build"))
            elif not real.is_file():
                results.append((path, f"artifact {match} refused: not a regular file"))
            else:
                results.append((real, None))
    return results


def _free_name(name: str, taken: set[str]) -> str:
    candidate, index = name, 0
    stem, dot, suffix = name.partition(".")
    while candidate in taken:
        index += 1
        candidate = f"{stem}_{index}{dot}{suffix}"
    taken.add(candidate)
    return candidate


def _copy(build_id: str, source: Path, dest: Path, name: str, artifacts_dir: Path) -> Artifact:
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / name
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    shutil.copystat(source, target)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Artifact(
        id=new_id(),
        build_id=build_id,
        name=name,
        path=str(target.relative_to(artifacts_dir)),
        size=size,
        sha256=digest.hexdigest(),
        content_type=content_type,
        created_at=utcnow(),
    )
