"""The dashboard's static files, served at `/static/<version>/<path>`.

`version` is a hash of every file under static/, computed once at start: a URL names one exact
content, so browsers may cache it for a year (`immutable`) and a new release is fetched at once.
One version for the whole folder keeps ES modules' relative imports (`./ansi.js`) inside it. A
request for another version (a page rendered before an upgrade) gets the current file, uncached.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from quart import Blueprint, Response, send_from_directory

from oore.http.auth import public

STATIC_DIR = Path(__file__).parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"

blueprint = Blueprint("dashboard_assets", __name__)


def _hash_folder() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
        digest.update(path.relative_to(STATIC_DIR).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# Read once, at import (before the daemon serves): never on the event loop.
VERSION = _hash_folder()


def version() -> str:
    return VERSION


def url(path: str) -> str:
    return f"/static/{version()}/{path}"


@blueprint.get("/static/<asset_version>/<path:filename>")
@public
async def static_file(asset_version: str, filename: str) -> Response:
    response = await send_from_directory(STATIC_DIR, filename)
    current = asset_version == version()
    response.headers["Cache-Control"] = IMMUTABLE if current else "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
