"""Rendering a dashboard page: the blueprint, what every template sees, and the headers every
page is sent with (no caching of pages, a strict Content-Security-Policy with a per-request
nonce for the few inline module scripts)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from quart import Blueprint, Response, g, render_template

from oore import __version__
from oore.errors import OoreError
from oore.http.dashboard import assets
from oore.model import TokenScope

blueprint = Blueprint("dashboard", __name__, template_folder="templates")


async def page_response(template: str, *, status: int = 200, **context: Any) -> Response:
    html = await render_template(template, **context)
    response = Response(html, status=status, mimetype="text/html")
    # Pages show what a session may see: never stored by a browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        f"script-src 'self' 'nonce-{csp_nonce()}'; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    nonce: str = g.csp_nonce
    return nonce


@blueprint.context_processor
async def _common() -> dict[str, Any]:
    principal = g.get("principal")
    session = principal.session if principal is not None else None
    return {
        "principal": principal,
        "signed_in_as": session.token_name if session is not None else None,
        "can_write": principal is not None and principal.scope is TokenScope.WRITE,
        "is_admin": principal is not None and principal.kind == "admin",
        "csrf_token": session.csrf_secret if session is not None else "",
        "static": assets.url,
        "csp_nonce": csp_nonce(),
        "version": __version__,
    }


@blueprint.errorhandler(OoreError)
async def _error_page(error: OoreError) -> Response:
    # Pages answer errors as pages (the API keeps its JSON errors).
    return await page_response(
        "error.html", status=error.status, title=_TITLES.get(error.status, "Something went wrong"),
        message=error.message,
    )  # fmt: skip


_TITLES = {404: "Not found", 403: "Not allowed", 422: "Not valid", 503: "Unavailable"}


NONE_YET = "\u2013"  # an en dash: no value (yet)


@blueprint.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE_YET
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@blueprint.app_template_filter("elapsed")
def elapsed(start: str | None, end: str | None) -> str:
    if not start or not end:
        return NONE_YET
    return duration(_parse(end) - _parse(start))


def _parse(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@blueprint.app_template_filter("ago")
def ago(stamp: str | None) -> str:
    if not stamp:
        return NONE_YET
    then = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    seconds = (dt.datetime.now(dt.UTC) - then).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return "just now"


@blueprint.app_template_filter("size")
def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"
