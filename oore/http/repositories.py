"""Repositories: register, read, change, remove, and the webhook URL to give the provider.

A repository's webhook secret is write-only: GitHub's is sealed (it must be read back to check
signatures), GitLab's token is kept only as an HMAC (it is only ever compared). Both are returned
once, in the response that set them, and never again.
"""

from __future__ import annotations

import re
from typing import Any

from quart import Blueprint, Response, jsonify

from oore.crypto import aad, generate_token, keyed_hash
from oore.errors import ValidationError
from oore.git.names import CLONE_URL, GITHUB_OWNER, GITLAB_NAMESPACE, NAME, has_credentials
from oore.http import github_registration, present, removal, validate
from oore.http.jsonio import read_json_object
from oore.http.services import Services, services
from oore.ids import new_id
from oore.model import Provider, Repository, utcnow
from oore.store.base import UPDATABLE_REPOSITORY_FIELDS, RepositorySecrets

blueprint = Blueprint("repositories", __name__)

CREDENTIALS_MESSAGE = (
    "credentials in the clone URL are not stored (they would be shown to every API reader); "
    "remove them, and give Oore the token with `oore repo credentials set REPO` "
    "(PUT /api/repositories/{id}/credentials): it is stored sealed and never shown"
)
# git check-ref-format, for the parts a branch name typed by a person gets wrong.
BRANCH = re.compile(
    r"(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)(?!.*\.lock$)[^\x00-\x20~^:?*\[\\\x7f]+(?<![./])"
)
UPDATABLE = UPDATABLE_REPOSITORY_FIELDS | {"webhook_secret"}
CREATABLE = UPDATABLE | {"provider", "owner", "name"}


@blueprint.post("/api/repositories")
async def create_repository() -> tuple[Response, int]:
    body = await read_json_object()
    if "installation_id" in body:  # through the GitHub App: no secret, details from GitHub
        return await github_registration.register(body)
    validate.unknown_fields(body, CREATABLE)
    provider = Provider(validate.choice(body, "provider", [p.value for p in Provider]))
    owner_pattern = GITHUB_OWNER if provider is Provider.GITHUB else GITLAB_NAMESPACE
    owner = validate.required_text(body, "owner", pattern=owner_pattern, hint="is not valid")
    name = validate.required_text(
        body, "name", pattern=NAME, hint="may hold letters, digits, . _ -"
    )
    fields = _updatable_fields(body)
    if "clone_url" not in fields:
        raise ValidationError("clone_url", "is required")
    secret = _secret(body) or generate_token("whsec_")
    now = utcnow()
    repo = Repository(
        id=new_id(),
        provider=provider,
        owner=owner,
        name=name,
        created_at=now,
        updated_at=now,
        **fields,
    )
    svc = services()
    await svc.store.create_repository(repo, _seal_secret(svc, repo, secret))
    created = await svc.store.get_repository(repo.id)
    return jsonify(_with_webhook(svc, created) | {"webhook_secret": secret}), 201


@blueprint.get("/api/repositories")
async def list_repositories() -> Response:
    svc = services()
    repos = await svc.store.list_repositories()
    return jsonify({"items": [_with_webhook(svc, r) for r in repos]})


@blueprint.get("/api/repositories/<repository_id>")
async def get_repository(repository_id: str) -> Response:
    svc = services()
    return jsonify(_with_webhook(svc, await svc.store.get_repository(repository_id)))


@blueprint.patch("/api/repositories/<repository_id>")
async def update_repository(repository_id: str) -> Response:
    body = await read_json_object()
    validate.unknown_fields(body, UPDATABLE)
    svc = services()
    repo = await svc.store.get_repository(repository_id)
    secret = _secret(body)
    secrets = _seal_secret(svc, repo, secret) if secret else None
    updated = await svc.store.update_repository(repository_id, _updatable_fields(body), secrets)
    extra = {"webhook_secret": secret} if secret else {}
    return jsonify(_with_webhook(svc, updated) | extra)


@blueprint.delete("/api/repositories/<repository_id>")
async def delete_repository(repository_id: str) -> tuple[str, int]:
    svc = services()
    await svc.store.get_repository(repository_id)  # 404 before the queue is asked
    # Its builds are cancelled and waited for, then its rows and files removed.
    await removal.delete_repository(svc, repository_id)
    return "", 204


@blueprint.get("/api/repositories/<repository_id>/webhook-url")
async def webhook_url(repository_id: str) -> Response:
    svc = services()
    repo = await svc.store.get_repository(repository_id)
    return jsonify(webhook_instructions(svc, repo))


def webhook_instructions(svc: Services, repo: Repository) -> dict[str, Any]:
    if repo.provider is Provider.GITHUB:
        return {
            "url": f"{svc.settings.base_url}/api/webhooks/github",
            "content_type": "application/json",
            "secret": "the webhook_secret returned when it was set",
            "events": ["push", "pull_request"],
            "header": "X-Hub-Signature-256",
        }
    return {
        "url": f"{svc.settings.base_url}/api/webhooks/gitlab/{repo.id}",
        "secret": "the webhook_secret returned when it was set (GitLab's 'Secret token')",
        "events": ["Push events", "Tag push events", "Merge request events"],
        "header": "X-Gitlab-Token",
    }


def _with_webhook(svc: Services, repo: Repository) -> dict[str, Any]:
    return present.repository(repo) | {"webhook_url": webhook_instructions(svc, repo)["url"]}


def _updatable_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if has_credentials(body.get("clone_url")):
        raise ValidationError("clone_url", CREDENTIALS_MESSAGE)
    url = validate.text(
        body,
        "clone_url",
        required=False,
        pattern=CLONE_URL,
        max_length=2000,
        hint="must be an https://, ssh://, git://, file:// or user@host:path URL",
    )
    if url is not None:
        if url.startswith("-"):
            raise ValidationError("clone_url", "must not start with '-'")
        fields["clone_url"] = url
    branch = validate.text(
        body, "default_branch", required=False, pattern=BRANCH, hint="is not a valid branch name"
    )
    if branch is not None:
        fields["default_branch"] = branch
    for field in ("active", "badge_public", "allow_fork_secrets"):
        value = validate.flag(body, field)
        if value is not None:
            fields[field] = value
    for field in ("github_repo_id", "github_installation_id", "gitlab_project_id"):
        number = validate.positive_int(body, field)
        if number is not None:
            fields[field] = number
    return fields


def _secret(body: dict[str, Any]) -> str | None:
    value = validate.text(body, "webhook_secret", required=False, max_length=255)
    if value is not None and len(value) < 8:
        raise ValidationError("webhook_secret", "must be at least 8 characters")
    return value


def _seal_secret(svc: Services, repo: Repository, secret: str) -> RepositorySecrets:
    if repo.provider is Provider.GITHUB:
        where = aad("repositories", repo.id, "webhook_secret")
        return RepositorySecrets(svc.sealer.seal(secret.encode(), where), None)
    return RepositorySecrets(None, keyed_hash(svc.gitlab_token_key, secret))
