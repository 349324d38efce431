"""API tokens: create (the secret is shown once), list, revoke. Admin token only."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify

from oore.crypto import generate_token, hash_token
from oore.http import present, validate
from oore.http.auth import admin_only
from oore.http.jsonio import read_json_object
from oore.http.services import services
from oore.ids import new_id
from oore.model import ApiToken, TokenScope, utcnow

blueprint = Blueprint("tokens", __name__)


@blueprint.post("/api/tokens")
@admin_only
async def create_token() -> tuple[Response, int]:
    body = await read_json_object()
    validate.unknown_fields(body, {"name", "scope"})
    name = validate.required_text(body, "name", max_length=100)
    scope = validate.choice(body, "scope", [s.value for s in TokenScope])
    secret = generate_token()
    token = ApiToken(id=new_id(), name=name, scope=TokenScope(scope), created_at=utcnow())
    await services().store.create_token(token, hash_token(secret))
    return jsonify({**present.token(token), "token": secret}), 201


@blueprint.get("/api/tokens")
@admin_only
async def list_tokens() -> Response:
    tokens = await services().store.list_tokens()
    return jsonify({"items": [present.token(t) for t in tokens]})


@blueprint.delete("/api/tokens/<token_id>")
@admin_only
async def revoke_token(token_id: str) -> Response:
    revoked = await services().store.revoke_token(token_id)
    return jsonify(present.token(revoked))
