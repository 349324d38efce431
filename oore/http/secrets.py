"""Secret groups: named sets of variables sealed with AES-GCM, used by `environment.groups`.

Values go in and never come out: the API answers with variable names only. Each value is
sealed with associated data naming its row, so a sealed value moved to another row won't open.
"""

from __future__ import annotations

import re

from quart import Blueprint, Response, jsonify

from oore.crypto import aad
from oore.errors import NotFound, ValidationError
from oore.http import validate
from oore.http.jsonio import read_json_object
from oore.http.services import services
from oore.ids import new_id

blueprint = Blueprint("secrets", __name__)

GROUP = re.compile(r"[A-Za-z0-9_.-]{1,100}")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
MAX_VALUE = 64 * 1024


@blueprint.get("/api/secret-groups")
async def list_groups() -> Response:
    groups = await services().store.secret_groups()
    return jsonify({"items": [{"name": g, "variables": names} for g, names in groups.items()]})


@blueprint.get("/api/secret-groups/<name>")
async def get_group(name: str) -> Response:
    groups = await services().store.secret_groups()
    if name not in groups:
        raise NotFound(f"secret group {name} not found")
    return jsonify({"name": name, "variables": groups[name]})


@blueprint.put("/api/secret-groups/<name>")
async def put_group(name: str) -> Response:
    if not GROUP.fullmatch(name):
        raise ValidationError("name", "may hold letters, digits, . _ - (at most 100)")
    body = await read_json_object()
    validate.unknown_fields(body, {"variables"})
    variables = body.get("variables")
    if not isinstance(variables, dict) or not variables:
        raise ValidationError("variables", "must be a non-empty object of NAME: value")
    svc = services()
    sealed: dict[str, tuple[str, bytes]] = {}
    for key, value in variables.items():
        if not NAME.fullmatch(key):
            raise ValidationError("variables", f"{key!r} is not a valid variable name")
        if not isinstance(value, str) or len(value.encode()) > MAX_VALUE:
            raise ValidationError("variables", f"{key}: must be a string of at most 64 KiB")
        row_id = new_id()
        sealed[key] = (row_id, svc.sealer.seal(value.encode(), aad("secrets", row_id, "value")))
    await svc.store.replace_secret_group(name, sealed)
    return jsonify({"name": name, "variables": sorted(sealed)})


@blueprint.delete("/api/secret-groups/<name>")
async def delete_group(name: str) -> tuple[str, int]:
    await services().store.delete_secret_group(name)
    return "", 204
