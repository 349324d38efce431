"""GitLab's REST API (v4) as the connected user: the projects they maintain, project hooks.

Every call carries the connection's access token; when GitLab refuses it (401: revoked, or
expired before the time it gave) the token is refreshed once and the call repeated. What GitLab
says about a project is checked against the rules for a repository registered by hand, and its
clone URL must be on OORE_GITLAB_URL's origin: the access token is sent wherever it points.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oore.errors import NotFound, ProviderError
from oore.git.names import CLONE_URL, GITLAB_NAMESPACE, NAME, has_credentials, origin_of
from oore.providers.gitlab_connection import GitLabConnection
from oore.providers.outbound import provider_client
from oore.providers.provider_http import GITLAB

if TYPE_CHECKING:
    import httpx  # for types only: oore.providers.outbound imports it on first use

MAINTAINER = 40  # GitLab's access level: hooks need Maintainer or Owner
PER_PAGE = 100
MAX_PAGES = 50  # 5000 projects; past that the listing is cut rather than take minutes
HOOK_EVENTS = ("push_events", "tag_push_events", "merge_requests_events")

log = logging.getLogger("oore.providers.gitlab")


@dataclass(frozen=True, slots=True)
class GitLabProject:
    id: int
    path_with_namespace: str
    namespace: str  # the namespace's full path: "group/subgroup"
    path: str
    http_url_to_repo: str
    default_branch: str | None
    web_url: str | None


class GitLabApi:
    def __init__(self, connection: GitLabConnection) -> None:
        self.connection = connection

    async def maintained_projects(self) -> list[GitLabProject]:
        """Every project the user may add hooks to (Maintainer or more), by path."""
        found: list[GitLabProject] = []
        page: int | None = 1
        while page is not None and page <= MAX_PAGES:
            params = {
                "min_access_level": MAINTAINER,
                "simple": "true",
                "per_page": PER_PAGE,
                "page": page,
                "order_by": "path",
                "sort": "asc",
            }
            response = await self._call("GET", "/projects", params=params)
            found += [p for item in _listing(response) if (p := self._listed(item)) is not None]
            page = _next_page(response, page)
        return found

    async def project(self, project_id: int) -> GitLabProject:
        response = await self._call("GET", f"/projects/{project_id}")
        if response.status_code == 404:
            raise NotFound(f"GitLab has no project {project_id} that the connected user can see")
        return self._project(GITLAB.json_of(response, f"read project {project_id}"))

    async def create_hook(self, project_id: int, url: str, token: str) -> int:
        body: dict[str, Any] = {
            "url": url,
            "token": token,
            "enable_ssl_verification": url.startswith("https://"),
            **dict.fromkeys(HOOK_EVENTS, True),
        }
        response = await self._call("POST", f"/projects/{project_id}/hooks", json=body)
        hook = GITLAB.json_of(response, f"add a webhook to project {project_id}")
        hook_id = hook.get("id") if isinstance(hook, dict) else None
        if not isinstance(hook_id, int):
            raise ProviderError("GitLab's answer to adding a webhook holds no hook id")
        return hook_id

    async def delete_hook(self, project_id: int, hook_id: int) -> None:
        """Remove a hook; one already gone (deleted in GitLab) is fine."""
        response = await self._call("DELETE", f"/projects/{project_id}/hooks/{hook_id}")
        if response.status_code != 404 and not response.is_success:
            GITLAB.json_of(response, f"remove webhook {hook_id} from project {project_id}")

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.connection.gitlab_url}/api/v4{path}"
        token = await self.connection.access_token()
        async with provider_client(allow_private=self.connection.allow_private) as http:
            response = await GITLAB.send(http, method, url, token, **kwargs)
            if response.status_code == 401:
                token = await self.connection.refreshed_after(token)
                response = await GITLAB.send(http, method, url, token, **kwargs)
        return response

    def _project(self, item: Any) -> GitLabProject:
        project = _project(item)
        _check(project, self.connection.gitlab_url)
        return project

    def _listed(self, item: Any) -> GitLabProject | None:
        """A project of the listing; one Oore could not register is left out, not fatal."""
        try:
            return self._project(item)
        except ProviderError as exc:
            log.warning("left a project out of GitLab's listing: %s", exc.message)
            return None


def _listing(response: httpx.Response) -> list[dict[str, Any]]:
    items = GITLAB.json_of(response, "list projects")
    if not isinstance(items, list):
        raise ProviderError("GitLab's project listing is not a list")
    return [item for item in items if isinstance(item, dict)]


def _next_page(response: httpx.Response, page: int) -> int | None:
    """The page after `page`, or None at the end (also when GitLab's header makes no sense)."""
    text = response.headers.get("X-Next-Page", "")
    if not (text.isascii() and text.isdigit()) or int(text) <= page:
        return None
    return int(text)


def _check(project: GitLabProject, gitlab_url: str) -> None:
    """Refuse a project whose names or clone URL Oore would not accept from a person."""
    label = f"GitLab's project {project.id}"
    if not GITLAB_NAMESPACE.fullmatch(project.namespace):
        raise ProviderError(f"{label} has a namespace Oore cannot use: {project.namespace[:200]!r}")
    if not NAME.fullmatch(project.path):
        raise ProviderError(f"{label} has a path Oore cannot use: {project.path[:200]!r}")
    url = project.http_url_to_repo
    if not CLONE_URL.fullmatch(url) or has_credentials(url):
        raise ProviderError(f"{label} has no usable http_url_to_repo")
    if origin_of(url) != origin_of(gitlab_url):
        # The access token goes wherever the clone URL points: only to OORE_GITLAB_URL.
        raise ProviderError(
            f"{label} has an http_url_to_repo that is not on OORE_GITLAB_URL's origin "
            f"({origin_of(url) or 'none'}): check OORE_GITLAB_URL"
        )


def _project(item: Any) -> GitLabProject:
    try:
        return GitLabProject(
            id=int(item["id"]),
            path_with_namespace=str(item["path_with_namespace"]),
            namespace=str(item["namespace"]["full_path"]),
            path=str(item["path"]),
            http_url_to_repo=str(item["http_url_to_repo"]),
            default_branch=item.get("default_branch"),
            web_url=item.get("web_url"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(f"GitLab described a project without {exc}") from exc
