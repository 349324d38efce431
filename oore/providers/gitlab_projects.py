"""Enabling a GitLab project: its webhook created through the API, its repository registered.

Enabling gives the project a hook to `{base_url}/api/webhooks/gitlab/{repository_id}` with a new
random token, of which Oore keeps only the HMAC the webhook intake checks (as for a repository
registered by hand). Enabling again replaces the hook and its token (a repair, should the hook
have been deleted or edited in GitLab). Disabling deletes the hook and deactivates the
repository, keeping its builds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import trio

from oore.crypto import generate_token, keyed_hash
from oore.errors import NotFound, OoreError
from oore.ids import new_id
from oore.model import Provider, Repository, utcnow
from oore.providers.gitlab_api import GitLabApi, GitLabProject
from oore.store.base import GitLabProjectLink, GitLabStore, RepositorySecrets, RepositoryStore

log = logging.getLogger("oore.providers.gitlab")

CLEANUP_SECONDS = 10.0


class _Store(RepositoryStore, GitLabStore, Protocol):
    pass


@dataclass(frozen=True, slots=True)
class Listed:
    project: GitLabProject
    repository_id: str | None  # registered through an enable, or by hand with its project id
    enabled: bool  # Oore holds a hook on the project


@dataclass(frozen=True, slots=True)
class Enabled:
    repository: Repository
    hook_id: int


async def listing(api: GitLabApi, store: _Store) -> list[Listed]:
    projects = await api.maintained_projects()
    links = {link.project_id: link for link in await store.gitlab_project_links()}
    listed = []
    for project in projects:
        link = links.get(project.id)
        enabled = link is not None and link.hook_id is not None
        listed.append(Listed(project, link.repository_id if link else None, enabled))
    return listed


async def enable(
    api: GitLabApi, store: _Store, token_key: bytes, base_url: str, project_id: int
) -> Enabled:
    project = await api.project(project_id)
    existing = await store.find_repository(
        Provider.GITLAB, project.namespace, project.path, project.id
    )
    repository_id = existing.id if existing else new_id()
    old = await store.gitlab_project_link(repository_id) if existing else None
    token = generate_token("whsec_")
    url = f"{base_url}/api/webhooks/gitlab/{repository_id}"
    hook_id = await api.create_hook(project.id, url, token)
    try:
        secrets = RepositorySecrets(None, keyed_hash(token_key, token))
        repo = await _register(store, existing, repository_id, project, secrets)
        await store.set_gitlab_project(GitLabProjectLink(repository_id, project.id, hook_id))
    except BaseException:
        await _forget_hook(api, project.id, hook_id)
        raise
    if old is not None and old.hook_id is not None and old.hook_id != hook_id:
        # The old hook's token no longer matches: it could only fail from now on.
        await _forget_hook(api, project.id, old.hook_id)
    log.info("enabled GitLab project %s (hook %d)", project.path_with_namespace, hook_id)
    return Enabled(repo, hook_id)


async def disable(api: GitLabApi, store: _Store, project_id: int) -> Repository:
    link = next((x for x in await store.gitlab_project_links() if x.project_id == project_id), None)
    if link is None:
        raise NotFound(f"GitLab project {project_id} was not enabled through Oore")
    if link.hook_id is not None:
        await api.delete_hook(project_id, link.hook_id)
    repo = await store.update_repository(link.repository_id, {"active": False})
    await store.set_gitlab_project(GitLabProjectLink(link.repository_id, project_id, None))
    log.info("disabled GitLab project %d", project_id)
    return repo


async def _register(
    store: _Store,
    existing: Repository | None,
    repository_id: str,
    project: GitLabProject,
    secrets: RepositorySecrets,
) -> Repository:
    fields = {
        "clone_url": project.http_url_to_repo,
        "gitlab_project_id": project.id,
        "active": True,
    }
    if project.default_branch:
        fields["default_branch"] = project.default_branch
    if existing is not None:
        return await store.update_repository(repository_id, fields, secrets)
    now = utcnow()
    repo = Repository(
        id=repository_id,
        provider=Provider.GITLAB,
        owner=project.namespace,
        name=project.path,
        created_at=now,
        updated_at=now,
        **fields,  # type: ignore[arg-type]
    )
    await store.create_repository(repo, secrets)
    return await store.get_repository(repository_id)


async def _forget_hook(api: GitLabApi, project_id: int, hook_id: int) -> None:
    """Best effort, bounded, and even while cancelled: a hook nobody can verify is noise."""
    with trio.move_on_after(CLEANUP_SECONDS, shield=True):
        try:
            await api.delete_hook(project_id, hook_id)
        except OoreError as exc:
            log.warning(
                "could not remove webhook %d of GitLab project %d (%s); remove it in GitLab",
                hook_id,
                project_id,
                exc.message,
            )
