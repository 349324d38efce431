"""Registering a repository from a GitHub App installation: `POST /api/repositories` with
`{"provider": "github", "installation_id", "github_repo_id"}`.

The repository must be one the installation covers (GitHub said so through the app's webhook);
its owner, name, clone URL and default branch are read from GitHub as the installation, which
also proves the app can reach it. There is no webhook secret to copy: its deliveries come from
the app and are verified with the app's secret, and its fetches use the installation's token.
"""

from __future__ import annotations

import re
from typing import Any

from quart import Response, jsonify

from oore.errors import NotFound, ProviderError, ValidationError
from oore.git.names import has_credentials, origin_of
from oore.http import present, validate
from oore.http.services import Services, services
from oore.ids import new_id
from oore.model import GithubInstallation, Provider, Repository, utcnow
from oore.store.base import RepositorySecrets

FLAGS = ("active", "badge_public", "allow_fork_secrets")
FIELDS = frozenset({"provider", "installation_id", "github_repo_id", *FLAGS})
SEGMENT = re.compile(r"(?!\.\.?$)[A-Za-z0-9_.-]{1,100}")
HTTPS = re.compile(r"https?://[^\s\x00-\x1f\x7f@]+")


async def register(body: dict[str, Any]) -> tuple[Response, int]:
    validate.unknown_fields(body, FIELDS)
    if body.get("provider") != "github":
        raise ValidationError("provider", "must be github with installation_id")
    installation_id = _required_id(body, "installation_id")
    repo_id = _required_id(body, "github_repo_id")
    svc = services()
    _covered(await svc.store.github_installation(installation_id), repo_id)
    info = await svc.github.installation_get(installation_id, f"/repositories/{repo_id}")
    fields = _from_github(info)
    if origin_of(fields["clone_url"]) != origin_of(svc.settings.github_url):
        # The installation token is only ever sent to OORE_GITHUB_URL's host.
        raise ProviderError("GitHub answered a clone_url that is not on OORE_GITHUB_URL's host")
    fields = fields | {k: v for k in FLAGS if (v := validate.flag(body, k)) is not None}
    now = utcnow()
    repo = Repository(
        id=new_id(),
        provider=Provider.GITHUB,
        created_at=now,
        updated_at=now,
        github_repo_id=repo_id,
        github_installation_id=installation_id,
        **fields,
    )
    await svc.store.create_repository(repo, RepositorySecrets(None, None))
    created = await svc.store.get_repository(repo.id)
    return jsonify(_presented(svc, created)), 201


def _required_id(body: dict[str, Any], field: str) -> int:
    value = validate.positive_int(body, field)
    if value is None:
        raise ValidationError(field, "is required")
    return value


def _covered(installation: GithubInstallation, repo_id: int) -> None:
    if all(r.id != repo_id for r in installation.repositories):
        raise NotFound(
            f"GitHub repository {repo_id} is not in installation {installation.id}: add it to "
            "the app's installation on GitHub (`oore github installations` lists what is)"
        )


def _from_github(info: dict[str, Any]) -> dict[str, Any]:
    """Owner, name, clone URL and default branch as GitHub answers them, checked."""
    owner = info.get("owner")
    login = owner.get("login") if isinstance(owner, dict) else None
    name, clone_url = info.get("name"), info.get("clone_url")
    branch = info.get("default_branch")
    if not (isinstance(login, str) and SEGMENT.fullmatch(login)):
        raise ProviderError("GitHub's answer names no valid repository owner")
    if not (isinstance(name, str) and SEGMENT.fullmatch(name)):
        raise ProviderError("GitHub's answer names no valid repository name")
    if not (isinstance(clone_url, str) and HTTPS.fullmatch(clone_url)) or has_credentials(
        clone_url
    ):
        raise ProviderError("GitHub's answer has no usable https clone_url")
    fields = {"owner": login, "name": name, "clone_url": clone_url}
    if isinstance(branch, str) and branch:
        fields["default_branch"] = branch
    return fields


def _presented(svc: Services, repo: Repository) -> dict[str, Any]:
    return present.repository(repo) | {
        "webhook_url": f"{svc.settings.base_url}/api/webhooks/github"
    }
