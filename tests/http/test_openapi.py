"""The OpenAPI document stays true: same routes as the app, valid 3.1, real responses match it."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import referencing
from openapi_spec_validator import validate as validate_spec
from quart_trio import QuartTrio
from referencing.jsonschema import DRAFT202012

from oore import __version__
from oore.config import Settings
from oore.crypto import generate_token, hash_token
from oore.http import openapi, repositories
from oore.http.services import Services
from oore.ids import new_id
from oore.model import ApiToken, EventState, TokenScope, utcnow

IGNORED_METHODS = {"HEAD", "OPTIONS"}
DOC_URI = "urn:oore:openapi"


def _template(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def app_operations(app: QuartTrio) -> dict[tuple[str, str], str]:
    """(path template, METHOD) -> endpoint, for every route except HEAD/OPTIONS and static."""
    found: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            found[(_template(rule.rule), method)] = rule.endpoint
    return found


def doc_operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method.upper()): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }


@pytest.fixture
def doc(settings: Settings) -> dict[str, Any]:
    return openapi.document(settings.base_url)


def test_template_conversion() -> None:
    assert _template("/api/a/<x>/b/<int:y>.svg") == "/api/a/{x}/b/{y}.svg"


async def test_served_publicly_and_equal_to_module_document(
    app: QuartTrio, doc: dict[str, Any], settings: Settings
) -> None:
    response = await app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    served = await response.get_json()
    assert served == doc
    assert served["openapi"] == "3.1.0"
    assert served["info"]["version"] == __version__
    assert served["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The admin token, or an API token (read or write scope)",
    }
    assert served["servers"] == [{"url": settings.base_url}]


def test_passes_openapi_spec_validator(doc: dict[str, Any]) -> None:
    validate_spec(doc)


def test_validator_would_catch_a_broken_document(doc: dict[str, Any]) -> None:
    doc["paths"]["/api/health"]["get"]["responses"] = "nope"
    with pytest.raises(Exception, match="nope"):
        validate_spec(doc)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_ref_resolves_and_every_operation_answers(doc: dict[str, Any]) -> None:
    refs = _refs(doc)
    assert len(refs) > 40
    for ref in refs:
        assert isinstance(_resolve(doc, ref), dict), ref
    for key, op in doc_operations(doc).items():
        assert op["responses"], key
        assert op["summary"], key
        assert all(re.fullmatch(r"[1-5]\d\d", status) for status in op["responses"]), key
    with pytest.raises(KeyError):
        _resolve(doc, "#/components/schemas/Nope")


async def test_documented_operations_equal_the_url_map(app: QuartTrio, doc: dict[str, Any]) -> None:
    routed = set(app_operations(app))
    documented = set(doc_operations(doc))
    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented operations that no route serves"
    assert ("/api/openapi.json", "GET") in routed


async def test_a_new_undocumented_route_is_noticed(app: QuartTrio, doc: dict[str, Any]) -> None:
    async def extra() -> str:
        return ""

    app.add_url_rule("/api/extra/<thing_id>", "extra", extra, methods=["PUT"])
    assert set(app_operations(app)) - set(doc_operations(doc)) == {("/api/extra/{thing_id}", "PUT")}


async def test_public_in_document_matches_public_marker(
    app: QuartTrio, doc: dict[str, Any]
) -> None:
    documented = doc_operations(doc)
    public_count = 0
    for key, endpoint in app_operations(app).items():
        marked = bool(getattr(app.view_functions[endpoint], "_oore_public", False))
        security = documented[key]["security"]
        assert (security == []) is marked, key
        if not marked:
            assert security == [{"bearerAuth": []}], key
            assert {"401"} <= set(documented[key]["responses"]), key
        public_count += marked
    assert public_count == 5


async def test_path_parameters_match_rule_arguments(app: QuartTrio, doc: dict[str, Any]) -> None:
    arguments = {
        (_template(r.rule), m): set(r.arguments)
        for r in app.url_map.iter_rules()
        for m in r.methods or ()
    }
    for key, op in doc_operations(doc).items():
        in_path = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert in_path == arguments[key], key


def test_request_bodies_follow_the_handlers(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    create = schemas["RepositoryCreate"]
    assert set(create["properties"]) == repositories.CREATABLE
    assert set(create["required"]) == {"provider", "owner", "name", "clone_url"}
    assert set(schemas["RepositoryUpdate"]["properties"]) == repositories.UPDATABLE
    assert schemas["RepositoryUpdate"]["required"] == []
    assert set(schemas["TokenCreate"]["properties"]) == {"name", "scope"}
    assert schemas["TokenCreate"]["properties"]["scope"]["enum"] == ["read", "write"]
    ops = doc_operations(doc)
    bodies = {k: op["requestBody"] for k, op in ops.items() if "requestBody" in op}
    assert set(bodies) == {
        ("/api/tokens", "POST"),
        ("/api/repositories", "POST"),
        ("/api/repositories/{repository_id}", "PATCH"),
    }
    names = [p["name"] for p in ops[("/api/webhooks/events", "GET")]["parameters"]]
    assert names == ["repository", "provider", "state", "cursor", "limit"]


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("clone_url", "https://example.com/a/b.git", "ext::sh -c evil"),
        ("clone_url", "git@example.com:a/b.git", "-oProxyCommand=x@h:p"),
        ("default_branch", "release/1.0", "a..b"),
        ("owner", "group/sub", "a b"),
        ("webhook_secret", "12345678", "short"),
        ("github_repo_id", 5, -1),
        ("active", True, "yes"),
    ],
)
def test_body_schema_accepts_and_refuses_like_the_handler(
    doc: dict[str, Any], field: str, good: Any, bad: Any
) -> None:
    base = {"provider": "gitlab", "owner": "g", "name": "n", "clone_url": "https://h/g/n.git"}
    validator = _validator(doc, "RepositoryCreate")
    assert list(validator.iter_errors(base | {field: good})) == []
    assert list(validator.iter_errors(base | {field: bad})) != []


def _validator(doc: dict[str, Any], schema: str) -> jsonschema.Draft202012Validator:
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        DOC_URI, DRAFT202012.create_resource(doc)
    )
    ref = {"$ref": f"{DOC_URI}#/components/schemas/{schema}"}
    return jsonschema.Draft202012Validator(ref, registry=registry)


class Checker:
    """Sends requests named by their documented template; checks status and body against the doc."""

    def __init__(self, app: QuartTrio, doc: dict[str, Any], admin: str) -> None:
        self.client = app.test_client()
        self.doc = doc
        self.ops = doc_operations(doc)
        self.admin = {"Authorization": f"Bearer {admin}"}
        self.seen: set[tuple[str, str]] = set()

    async def __call__(
        self,
        method: str,
        template: str,
        expect: int,
        *,
        auth: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        params = {k: kwargs.pop(k) for k in re.findall(r"\{(\w+)\}", template)}
        headers = {**(self.admin if auth is None else auth), **kwargs.pop("headers", {})}
        response = await self.client.open(
            template.format(**params), method=method, headers=headers, **kwargs
        )
        assert response.status_code == expect, (template, await response.get_data())
        documented = self.ops[(template, method)]["responses"].get(str(expect))
        assert documented is not None, f"{method} {template} answered undocumented {expect}"
        if "$ref" in documented:
            documented = _resolve(self.doc, documented["$ref"])
        self.seen.add((template, method))
        if "content" not in documented:
            assert await response.get_data() == b""
            return None
        body = await response.get_json()
        schema = documented["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        errors = [e.message for e in _validator(self.doc, schema).iter_errors(body)]
        assert errors == [], (method, template, expect, errors)
        return body


async def _token(services: Services, scope: TokenScope) -> str:
    secret = generate_token()
    token = ApiToken(id=new_id(), name=f"t-{scope}", scope=scope, created_at=utcnow())
    await services.store.create_token(token, hash_token(secret))
    return secret


async def test_real_responses_match_the_document(
    app: QuartTrio, doc: dict[str, Any], services: Services
) -> None:
    admin = services.settings.admin_token
    assert admin is not None
    check = Checker(app, doc, admin)
    read = {"Authorization": f"Bearer {await _token(services, TokenScope.READ)}"}
    missing = new_id()

    await check("GET", "/api/health", 200, auth={})
    await check("GET", "/api/version", 200, auth={})
    await check("GET", "/api/openapi.json", 200, auth={})

    await _tokens(check, missing)
    gitlab_id, secret = await _repositories(check, read, missing)
    await _webhooks_and_events(check, read, gitlab_id, secret, missing)
    await _reprocess(check, services, read, missing)
    await check("DELETE", "/api/repositories/{repository_id}", 204, repository_id=gitlab_id)

    assert check.seen == set(check.ops), "operations with no checked response"


async def _tokens(check: Checker, missing: str) -> None:
    created = await check("POST", "/api/tokens", 201, json={"name": "ci", "scope": "write"})
    assert created["token"].startswith("oore_")
    await check("POST", "/api/tokens", 422, json={"name": "ci", "scope": "root"})
    await check("POST", "/api/tokens", 400, data=b"{")
    await check("GET", "/api/tokens", 200)
    await check("GET", "/api/tokens", 401, auth={})
    writer = {"Authorization": f"Bearer {created['token']}"}
    await check("GET", "/api/tokens", 403, auth=writer)
    await check("DELETE", "/api/tokens/{token_id}", 200, token_id=created["id"])
    await check("DELETE", "/api/tokens/{token_id}", 404, token_id=missing)


async def _repositories(check: Checker, read: dict[str, str], missing: str) -> tuple[str, str]:
    repos = "/api/repositories"
    one = "/api/repositories/{repository_id}"
    github = {"provider": "github", "owner": "acme", "name": "app", "clone_url": "https://h/a.git"}
    gh = await check("POST", repos, 201, json=github | {"github_repo_id": 7})
    await check("POST", repos, 409, json=github)
    await check("POST", repos, 422, json=github | {"clone_url": "ext::sh -c evil"})
    await check("POST", repos, 403, auth=read, json=github)
    too_big = str(check.client.app.config["MAX_CONTENT_LENGTH"] + 1)
    await check("POST", repos, 413, data=b"{}", headers={"Content-Length": too_big})
    gitlab = github | {"provider": "gitlab", "owner": "grp/sub", "gitlab_project_id": 42}
    gl = await check("POST", repos, 201, json=gitlab)
    await check("GET", repos, 200, auth=read)
    await check("GET", one, 200, repository_id=gh["id"])
    await check("GET", one, 404, repository_id=missing)
    await check("PATCH", one, 200, repository_id=gh["id"], json={"active": False})
    patched = await check(
        "PATCH", one, 200, repository_id=gh["id"], json={"webhook_secret": "s" * 20}
    )
    assert patched["webhook_secret"] == "s" * 20
    await check("PATCH", one, 422, repository_id=gh["id"], json={"owner": "x"})
    await check("PATCH", one, 404, repository_id=missing, json={"active": True})
    await check("GET", one + "/webhook-url", 200, repository_id=gh["id"])
    await check("GET", one + "/webhook-url", 200, repository_id=gl["id"])
    await check("GET", one + "/webhook-url", 404, repository_id=missing)
    await check("DELETE", one, 204, repository_id=gh["id"])
    await check("DELETE", one, 404, repository_id=gh["id"])
    return str(gl["id"]), str(gl["webhook_secret"])


async def _webhooks_and_events(
    check: Checker, read: dict[str, str], gitlab_id: str, secret: str, missing: str
) -> None:
    hook = "/api/webhooks/gitlab/{repository_id}"
    push = {"object_kind": "push", "project": {"id": 42}}
    headers = {"X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook"}
    sent = {"repository_id": gitlab_id, "headers": headers, "json": push}
    first = await check("POST", hook, 202, auth={}, **sent)
    again = await check("POST", hook, 200, auth={}, **sent)
    assert (first["status"], again["status"]) == ("accepted", "duplicate")
    assert again["event_id"] == first["event_id"]
    bad = {"X-Gitlab-Token": "wrong-token", "X-Gitlab-Event": "Push Hook"}
    await check("POST", hook, 401, auth={}, repository_id=gitlab_id, headers=bad, json=push)
    await check("POST", hook, 404, auth={}, repository_id=missing, headers=headers, json=push)
    other = {"project": {"id": 1}}
    await check("POST", hook, 400, auth={}, repository_id=gitlab_id, headers=headers, json=other)
    await check("POST", "/api/webhooks/github", 400, auth={}, json={})
    signed = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d1"}
    await check("POST", "/api/webhooks/github", 401, auth={}, headers=signed, json={})

    events = "/api/webhooks/events"
    page = await check("GET", events, 200, auth=read, query_string={"provider": "gitlab"})
    assert [e["id"] for e in page["items"]] == [first["event_id"]]
    await check("GET", events, 422, query_string={"limit": "0"})
    await check("GET", events, 401, auth={})
    detail = await check("GET", events + "/{event_id}", 200, event_id=first["event_id"])
    assert detail["payload"] == push
    assert detail["state"] == "pending"
    await check("GET", events + "/{event_id}", 404, event_id=missing)


async def _reprocess(
    check: Checker, services: Services, read: dict[str, str], missing: str
) -> None:
    reprocess = "/api/webhooks/events/{event_id}/reprocess"
    event_id = (await services.store.pending_event_ids())[0]
    await check("POST", reprocess, 409, event_id=event_id)
    await services.store.finish_event(event_id, EventState.IGNORED, "test", None, None)
    await check("POST", reprocess, 403, auth=read, event_id=event_id)
    again = await check("POST", reprocess, 202, event_id=event_id)
    assert again["state"] == "pending"
    await check("POST", reprocess, 404, event_id=missing)
