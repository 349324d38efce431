"""What the settings page shows of the integrations and notifications: the GitHub App and its
installations, the GitLab connection, Slack and SMTP (never their secrets: the same presenters
as the API, which answers without them) and the signed webhook targets.

Each item is shown to a session only if the API route that answers it would answer that
session (`authorise` on the route's endpoint): when a route becomes admin-only, the page says
"admin only" for other sessions without a change here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from quart import current_app

from oore.errors import Forbidden
from oore.http.auth import Principal, authorise
from oore.http.github import present_app, present_installation
from oore.http.notifications import target_json, visible_targets
from oore.http.notify_settings import slack_json, smtp_json
from oore.http.services import Services
from oore.notify.settings import SLACK, SMTP

Reader = Callable[[Services, Principal], Awaitable[Any]]


async def _github(svc: Services, _principal: Principal) -> dict[str, Any]:
    app = await svc.store.github_app()
    registered = {
        r.github_repo_id: r.id
        for r in await svc.store.list_repositories()
        if r.github_installation_id is not None
    }
    installations = await svc.store.github_installations()
    return {
        "app": present_app(app) if app is not None else None,
        "installations": [present_installation(i, registered) for i in installations],
    }


async def _gitlab(svc: Services, _principal: Principal) -> Any:
    return await svc.gitlab.status()


async def _slack(svc: Services, _principal: Principal) -> dict[str, Any] | None:
    setting = await svc.store.notification_setting(SLACK)
    return slack_json(setting) if setting is not None else None


async def _smtp(svc: Services, _principal: Principal) -> dict[str, Any] | None:
    setting = await svc.store.notification_setting(SMTP)
    return smtp_json(setting) if setting is not None else None


async def _webhooks(svc: Services, principal: Principal) -> list[dict[str, Any]]:
    # As `GET /api/notifications/webhooks` answers, URLs shown as target_json shows them.
    targets = visible_targets(await svc.store.webhook_targets(), principal.kind == "admin")
    return [target_json(t) for t in targets]


# Each item: the API endpoints that answer it (the page mirrors their authorisation) and how
# the page reads it from the store.
ITEMS: dict[str, tuple[tuple[str, ...], Reader]] = {
    "github": (("github.get_app", "github.installations"), _github),
    "gitlab": (("gitlab.gitlab_status",), _gitlab),
    "slack": (("notify_settings.get_slack",), _slack),
    "smtp": (("notify_settings.get_smtp",), _smtp),
    "webhooks": (("notifications.list_targets",), _webhooks),
}


@dataclass(slots=True)
class Integrations:
    shown: dict[str, Any] = field(default_factory=dict)
    restricted: set[str] = field(default_factory=set)  # items this session may not read


async def integrations(svc: Services, principal: Principal) -> Integrations:
    found = Integrations()
    for name, (endpoints, read) in ITEMS.items():
        if all(may_read(principal, endpoint) for endpoint in endpoints):
            found.shown[name] = await read(svc, principal)
        else:
            found.restricted.add(name)
    return found


def may_read(principal: Principal, endpoint: str) -> bool:
    """Whether the API would answer `GET` on `endpoint` for this principal."""
    if endpoint not in current_app.view_functions:
        # An unknown endpoint would pass `authorise`: a renamed route must not open the page.
        raise LookupError(f"no API endpoint {endpoint!r}; update the dashboard's ITEMS")
    try:
        authorise(principal, "GET", endpoint)
    except Forbidden:
        return False
    return True
