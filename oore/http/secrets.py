"""Secret groups: named sets of variables sealed with AES-GCM, used by `environment.groups`.

Values go in and never come out: the API answers with variable names only. Each value is
sealed with associated data naming its row, so a sealed value moved to another row won't open.
A group's scope (`repositories`, by id) says which repositories' builds may use it; none named
means all of them. Pull requests from forks get no group unless their repository allows it.
"""

from __future__ import annotations

import re
from typing import Any

from quart import Blueprint, Response, jsonify

from oore.crypto import aad
from oore.errors import ValidationError
from oore.http import validate
from oore.http.jsonio import read_json_object
from oore.http.services import services
from oore.ids import new_id
from oore.model import SecretGroup

blueprint = Blueprint("secrets", __name__)

GROUP = re.compile(r"[A-Za-z0-9_.-]{1,100}")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MAX_VALUE = 64 * 1024
MAX_SCOPE = 1000


def _group_json(group: SecretGroup) -> dict[str, Any]:
    return {
        "name": group.name,
        "variables": list(group.variables),
        "repositories": list(group.repositories),
    }


@blueprint.get("/api/secret-groups")
async def list_groups() -> Response:
    groups = await services().store.secret_groups()
    return jsonify({"items": [_group_json(g) for g in groups]})


@blueprint.get("/api/secret-groups/<name>")
async def get_group(name: str) -> Response:
    return jsonify(_group_json(await services().store.secret_group(name)))


@blueprint.put("/api/secret-groups/<name>")
async def put_group(name: str) -> Response:
    if not GROUP.fullmatch(name):
        raise ValidationError("name", "may hold letters, digits, . _ - (at most 100)")
    body = await read_json_object()
    validate.unknown_fields(body, {"variables", "repositories"})
    variables = body.get("variables")
    if not isinstance(variables, dict) or not variables:
        raise ValidationError("variables", "must be a non-empty object of NAME: value")
    for key, value in variables.items():
        _check_variable(key, value)
    svc = services()
    scope = await _scope(body.get("repositories"))
    sealed: dict[str, tuple[str, bytes]] = {}
    for key, value in variables.items():
        row_id = new_id()
        sealed[key] = (row_id, svc.sealer.seal(value.encode(), aad("secrets", row_id, "value")))
    return jsonify(_group_json(await svc.store.replace_secret_group(name, sealed, scope)))


def _check_variable(key: str, value: object) -> None:
    if not NAME.fullmatch(key):
        raise ValidationError("variables", f"{key!r} is not a valid variable name")
    # A lone surrogate cannot be encoded, so it could never reach a build's environment either.
    if not isinstance(value, str) or len(value.encode(errors="replace")) > MAX_VALUE:
        raise ValidationError("variables", f"{key}: must be a string of at most 64 KiB")
    if "\x00" in value:
        # An environment variable is a C string: a build given this value could not start.
        raise ValidationError("variables", f"{key}: a value may not contain a NUL character")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValidationError("variables", f"{key}: must be valid Unicode text") from None


async def _scope(value: object) -> tuple[str, ...] | None:
    """The repository ids named, each one registered; None (absent) keeps the group's scope."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_SCOPE:
        raise ValidationError(
            "repositories", f"must be a list of at most {MAX_SCOPE} repository ids ([] = all)"
        )
    known = {repo.id for repo in await services().store.list_repositories()}
    for item in value:
        if not isinstance(item, str) or item not in known:
            raise ValidationError(
                "repositories", f"{item!r} is not the id of a registered repository"
            )
    return tuple(dict.fromkeys(value))


@blueprint.delete("/api/secret-groups/<name>")
async def delete_group(name: str) -> tuple[str, int]:
    await services().store.delete_secret_group(name)
    return "", 204
