"""`GET /api/badges/{repository_id}.svg`: the latest finished build's status as an SVG badge.

Public, but only for repositories with `badge_public`: any other id (or one that does not
exist) is the same 404, so a badge URL tells nothing about private repositories.

The label comes from the query string, so anyone can make a badge URL say anything: every piece
of text is escaped for attribute and element content alike, the label is cut short, and the SVG
is sent with a Content-Security-Policy that runs no script even when opened on its own, where
it would otherwise be a document on the daemon's origin.
"""

from __future__ import annotations

from html import escape

from quart import Blueprint, Response, request

from oore.errors import NotFound
from oore.http.auth import public
from oore.http.services import services
from oore.model import Build, BuildStatus

blueprint = Blueprint("badges", __name__)

# status -> (text, colour); colours with white text at >= 4.5:1 contrast.
LOOKS = {
    BuildStatus.SUCCEEDED: ("passing", "#1a7f37"),
    BuildStatus.FAILED: ("failing", "#c62828"),
    BuildStatus.TIMED_OUT: ("timed out", "#c62828"),
    BuildStatus.ERRORED: ("error", "#8e3b00"),
}
NONE = ("no builds", "#5f6368")
CHAR_WIDTH = 6.6  # Verdana 11px, on average: badges need no exact text metrics
PADDING = 10
LABEL_MAX = 40  # characters; a longer label is cut and ends in an ellipsis
# Inline styles only: an SVG opened directly must run no script and load nothing.
POLICY = "default-src 'none'; style-src 'unsafe-inline'"


@blueprint.get("/api/badges/<repository_id>.svg")
@public
async def badge(repository_id: str) -> Response:
    store = services().store
    try:
        repo = await store.get_repository(repository_id)
    except NotFound:
        repo = None
    if repo is None or not repo.badge_public:
        raise NotFound(f"no public badge for repository {repository_id}")
    branch = request.args.get("branch") or None
    workflow = request.args.get("workflow") or None
    latest = await store.latest_finished_build(repo.id, branch, workflow)
    response = Response(render(workflow or "build", latest), mimetype="image/svg+xml")
    # Shown through image proxies (GitHub's camo) that would otherwise keep an old status.
    response.headers["Cache-Control"] = "no-cache, max-age=0"
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def render(label: str, latest: Build | None) -> str:
    status, colour = LOOKS.get(latest.status, NONE) if latest is not None else NONE
    label = shortened(label)
    left = round(len(label) * CHAR_WIDTH + PADDING)
    right = round(len(status) * CHAR_WIDTH + PADDING)
    label_x, text_x = left / 2, left + right / 2
    # Escaped with quotes too: the label also goes into an attribute (aria-label).
    shown, said = escape(label, quote=True), escape(f"{label}: {status}", quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + right}" height="20" role="img" '
        f'aria-label="{said}"><title>{said}</title>'
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" '
        f'font-size="11"><text x="{label_x}" y="14">{shown}</text>'
        f'<text x="{text_x}" y="14">{escape(status, quote=True)}</text></g></svg>'
    )


def shortened(label: str) -> str:
    # Control characters are not allowed in XML at all: one would make the badge unreadable.
    label = "".join(c for c in label if c.isprintable())
    if len(label) <= LABEL_MAX:
        return label
    return label[: LABEL_MAX - 1] + "\u2026"
