"""Public system endpoints: health and version."""

from __future__ import annotations

import platform
import time

import trio
from quart import Blueprint, Response, jsonify

from oore import __version__
from oore.errors import Unavailable
from oore.execution.diskspace import short_of_space
from oore.http.auth import public
from oore.http.errors import error_response
from oore.http.services import services

blueprint = Blueprint("system", __name__)

HEALTH_TIMEOUT = 2.0


@blueprint.get("/api/health")
@public
async def health() -> Response:
    svc = services()
    try:
        with trio.fail_after(HEALTH_TIMEOUT):
            await svc.store.ping()
    except (Unavailable, trio.TooSlowError) as exc:
        reason = str(exc) or "the store did not answer in time"
        return error_response(503, "unavailable", f"store unavailable: {reason}")
    uptime = round(time.monotonic() - svc.started_monotonic, 3)
    answer: dict[str, object] = {"status": "ok", "store": "ok", "uptime_seconds": uptime}
    # Not a 503: the daemon serves, and restarting it frees no disk; builds wait meanwhile.
    short = await short_of_space(svc.paths.workspaces, svc.settings.min_free_disk)
    if short is not None:
        answer |= {"status": "degraded", "problems": [short]}
    return jsonify(answer)


@blueprint.get("/api/version")
@public
async def version() -> Response:
    return jsonify(
        {
            "version": __version__,
            "python": platform.python_version(),
            "trio": trio.__version__,
        }
    )
