"""A repository's own git credential: an HTTPS token, or an SSH deploy key Oore generates.

Write-only like every secret here: `PUT` takes a token (or makes a key pair) and answers what
the credential is, never its secret; `GET` answers the same; `DELETE` removes it. The secret is
sealed with associated data naming its row. For a deploy key, the answer carries the public key
to add to the repository at the provider (read access is enough).
"""

from __future__ import annotations

import re
from typing import Any

from quart import Blueprint, Response, jsonify

from oore.errors import NotFound, ValidationError
from oore.http import validate
from oore.http.jsonio import read_json_object
from oore.http.services import services
from oore.providers.credentials import (
    NewCredential,
    https_token,
    secret_aad,
    ssh_deploy_key,
    unusable_reason,
)
from oore.store.base import CredentialKind, RepositoryCredential

blueprint = Blueprint("credentials", __name__)

PATH = "/api/repositories/<repository_id>/credentials"
# Printable, no spaces: a token becomes part of an HTTP header, where a line break would be
# another header. Real tokens (GitHub, GitLab, Bitbucket) are far shorter than the bound.
TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")
# No ":" either: HTTP Basic ends the user name at the first one.
USERNAME = re.compile(r"[\x21-\x39\x3b-\x7e]{1,256}")


def credential_json(credential: RepositoryCredential) -> dict[str, Any]:
    return {
        "repository_id": credential.repository_id,
        "kind": str(credential.kind),
        "username": credential.username,
        "public_key": credential.public_key,
        "origin": credential.origin,
        "created_at": credential.created_at,
    }


@blueprint.get(PATH)
async def get_credential(repository_id: str) -> Response:
    svc = services()
    repo = await svc.store.get_repository(repository_id)
    found = await svc.store.repository_credential(repo.id)
    if found is None:
        raise NotFound(_none_set(repo.full_name))
    return jsonify(credential_json(found))


@blueprint.put(PATH)
async def put_credential(repository_id: str) -> Response:
    body = await read_json_object()
    kind = CredentialKind(validate.choice(body, "kind", [k.value for k in CredentialKind]))
    svc = services()
    repo = await svc.store.get_repository(repository_id)
    reason = unusable_reason(
        kind, repo.clone_url, allow_plain_http=svc.settings.allow_private_providers
    )
    if reason is not None:
        raise ValidationError("kind", f"{reason}; change the clone URL first, then set this")
    if kind is CredentialKind.HTTPS_TOKEN:
        validate.unknown_fields(body, {"kind", "token", "username"})
        token = validate.required_text(
            body, "token", pattern=TOKEN, hint="must be printable, without spaces", max_length=4096
        )
        username = validate.text(
            body, "username", required=False, pattern=USERNAME, hint="may not hold spaces or ':'"
        )
        new = https_token(repo, token, username)
    else:
        validate.unknown_fields(body, {"kind"})
        new = ssh_deploy_key(repo)
    await _store(new)
    return jsonify(credential_json(new.credential))


async def _store(new: NewCredential) -> None:
    svc = services()
    sealed = svc.sealer.seal(new.secret, secret_aad(new.credential.id))
    await svc.store.set_repository_credential(new.credential, sealed)


@blueprint.delete(PATH)
async def delete_credential(repository_id: str) -> tuple[str, int]:
    svc = services()
    repo = await svc.store.get_repository(repository_id)
    if not await svc.store.delete_repository_credential(repo.id):
        raise NotFound(_none_set(repo.full_name))
    return "", 204


def _none_set(full_name: str) -> str:
    return (
        f"{full_name} has no credential of its own; set one with "
        "PUT /api/repositories/{id}/credentials (`oore repo credentials set`)"
    )
