"""Downloading an artifact: into `NAME.partial` first, resumed with `Range: bytes=N-` when a
partial file is there, checked against the artifact's sha256 (the `X-Checksum-SHA256` header,
and the build's artifact list when known), and only then renamed to its final name. A file that
does not match is kept as `.partial` so the user can look at it, and the exit code says so.
"""

from __future__ import annotations

import email.message
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import trio

from oore.cli.client.errors import CliError, ExitCode

if TYPE_CHECKING:
    import httpx

    from oore.cli.client.http import Api

CHUNK = 256 * 1024
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True, slots=True)
class Downloaded:
    path: Path
    size: int
    sha256: str
    resumed_from: int


class Progress(Protocol):
    """What a download reports to; the command decides whether a bar is drawn."""

    def start(self, name: str, total: int | None, done: int) -> None: ...

    def advance(self, count: int) -> None: ...


async def download(
    api: Api,
    artifact_id: str,
    dest: Path | None,
    *,
    listed: dict[str, Any] | None,
    progress: Progress,
) -> Downloaded:
    path = f"/api/artifacts/{artifact_id}"
    target = await _target(api, path, dest, listed)
    partial = target.with_name(target.name + ".partial")
    for _ in range(2):  # a second pass only after throwing away a partial file that cannot fit
        offset = partial.stat().st_size if partial.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        async with api.stream(path, headers, allow=(416,)) as response:
            if response.status_code == 416:
                expected = _expected(await _head(api, path), listed)
                if offset != expected.size:
                    partial.unlink()
                    continue
                start = offset
            else:
                expected = _expected(response, listed)
                start = _start(response, offset)
                await _save(response, partial, start, expected, target.name, progress)
        return await _verify(partial, target, expected, resumed_from=start)
    raise CliError(f"{partial} keeps changing under the download; remove it", ExitCode.INVALID)


@dataclass(frozen=True, slots=True)
class _Expected:
    size: int | None
    sha256: str


def _expected(response: httpx.Response, listed: dict[str, Any] | None) -> _Expected:
    header = (response.headers.get("X-Checksum-SHA256") or "").lower() or None
    known = str(listed["sha256"]).lower() if listed else None
    if header and known and header != known:
        raise CliError(
            f"the server's checksum ({header}) differs from the build's artifact list ({known})",
            ExitCode.CHECKSUM,
        )
    sha = header or known
    if not sha:
        raise CliError(
            "the server sent no X-Checksum-SHA256 header, so the download cannot be checked; "
            "give --build BUILD to check it against the build's artifact list",
            ExitCode.CHECKSUM,
        )
    size = listed.get("size") if listed else None
    total = _total(response)
    return _Expected(total if total is not None else size, sha)


def _total(response: httpx.Response) -> int | None:
    found = CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
    if found and found.group(3) != "*":
        return int(found.group(3))
    length = response.headers.get("Content-Length")
    if response.status_code == 200 and length and length.isdigit():
        return int(length)
    return None


def _start(response: httpx.Response, offset: int) -> int:
    if response.status_code == 200:
        return 0  # the whole file: the server did not take the Range (or none was sent)
    found = CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
    if response.status_code != 206 or not found or int(found.group(1)) != offset:
        raise CliError(
            f"the server answered a resume from byte {offset} with "
            f"{response.status_code} {response.headers.get('Content-Range', '')}".strip(),
            ExitCode.SERVER,
        )
    return offset


async def _save(
    response: httpx.Response,
    partial: Path,
    start: int,
    expected: _Expected,
    name: str,
    progress: Progress,
) -> None:
    progress.start(name, expected.size, start)
    async with await trio.open_file(partial, "r+b" if start else "wb") as out:
        await out.truncate(start)
        await out.seek(start)
        async for chunk in response.aiter_bytes(CHUNK):
            await out.write(chunk)
            progress.advance(len(chunk))


async def _verify(
    partial: Path, target: Path, expected: _Expected, *, resumed_from: int
) -> Downloaded:
    digest, size = await trio.to_thread.run_sync(_sha256, partial)
    if digest != expected.sha256 or (expected.size is not None and size != expected.size):
        raise CliError(
            f"{target.name} does not match its checksum (expected sha256 {expected.sha256}, "
            f"got {digest}, {size} bytes); kept as {partial}: delete it and download again",
            ExitCode.CHECKSUM,
        )
    os.replace(partial, target)
    return Downloaded(target, size, digest, resumed_from)


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


async def _head(api: Api, path: str) -> httpx.Response:
    return await api.send("HEAD", path)


async def _target(api: Api, path: str, dest: Path | None, listed: dict[str, Any] | None) -> Path:
    if dest is not None and not await trio.Path(dest).is_dir():
        return dest
    name = str(listed["name"]) if listed else _filename(await _head(api, path))
    return (dest or Path()) / name


def _filename(response: httpx.Response) -> str:
    message = email.message.Message()
    message["Content-Disposition"] = response.headers.get("Content-Disposition", "")
    # Only the last component: a name from the server must not pick the directory.
    name = Path(message.get_filename() or "").name
    if name in ("", ".", ".."):
        raise CliError("the server named no file for this artifact; give -o PATH", ExitCode.INVALID)
    return name
