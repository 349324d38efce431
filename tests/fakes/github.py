"""A GitHub on loopback: the web side of the App manifest flow, the App API, and app webhooks.

What it does is what GitHub documents, checked as strictly as GitHub would:
- `POST /settings/apps/new?state=` (the browser's form post of the manifest): checks the manifest,
  makes an app with a fresh RSA key and webhook secret, and redirects to the manifest's
  `redirect_url` with a one-time `code` and the state, as GitHub does once the user confirms.
- `POST /app-manifests/{code}/conversions`: the app's id, slug, PEM, webhook and client secrets,
  once per code.
- `POST /app/installations/{id}/access_tokens`: the app JWT verified with the app's *public* key
  (RS256, `iss` the app id, at most 10 minutes long); answers a token whose lifetime the test sets
  (`token_lifetime`). `expire_tokens()` makes every token issued so far refused from then on;
  `refuse_token_requests` refuses that many next requests (403, as for a suspended installation).
  Every JWT received is kept in `jwts`, for the tests to grep for.
- `GET /repositories/{id}`: as an installation (its token), the repository's documented fields.
- Check runs and commit statuses (tests/fakes/github_checks.py).
- Webhooks to the app's hook URL, signed with its webhook secret, with the headers GitHub sends
  for an app (`X-GitHub-Hook-Installation-Target-Type: integration`): `install`,
  `add_repositories`, `remove_repositories`, `push`.
- git's smart HTTP for repositories given a `gitdir` (`/{owner}/{name}.git/...`, through
  `git http-backend`), as github.com serves them: only with a live installation token of an
  installation that covers the repository (Basic auth, user `x-access-token`); anything else is
  401, as GitHub answers for a private repository. `git_requests` records who was let in.

Start it in the test's nursery: ``github = await nursery.start(serve_github)``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import jwt
import trio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from quart import Response, request
from quart_trio import QuartTrio

from tests.fakes.github_checks import ChecksApi, github_error
from tests.fakes.recording import json_response, serve_app

PERMISSIONS = {
    "contents": "read",
    "metadata": "read",
    "statuses": "write",
    "checks": "write",
    "pull_requests": "read",
}
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


@dataclass
class FakeApp:
    id: int
    slug: str
    name: str
    manifest: dict[str, Any]
    private_key: rsa.RSAPrivateKey
    webhook_secret: str
    client_secret: str

    @property
    def pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @property
    def hook_url(self) -> str:
        return str(self.manifest["hook_attributes"]["url"])


@dataclass
class FakeRepo:
    id: int
    owner: str
    name: str
    clone_url: str
    private: bool = True
    default_branch: str = "main"
    gitdir: Path | None = None  # a bare repository served at clone_url (on this fake)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "node_id": f"R_{self.id}",
            "name": self.name,
            "full_name": self.full_name,
            "private": self.private,
        }


@dataclass
class Issued:
    token: str
    installation_id: int
    expires_at: float
    refused: bool = False
    app_id: int = 0  # the App that minted it (its check runs are that App's)

    def live(self) -> bool:
        return not self.refused and time.time() < self.expires_at


@dataclass
class FakeGitHub(ChecksApi):
    port: int = 0
    token_lifetime: float = 3600.0
    apps: dict[int, FakeApp] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)  # one-time code -> app id
    repos: dict[int, FakeRepo] = field(default_factory=dict)
    installations: dict[int, set[int]] = field(default_factory=dict)  # id -> repository ids
    issued: list[Issued] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    jwt_refusals: list[str] = field(default_factory=list)
    jwts: list[str] = field(default_factory=list)  # every app JWT received, to grep for
    refuse_token_requests: int = 0  # how many token requests to refuse next (403, suspended)
    deliveries: list[httpx.Response] = field(default_factory=list)
    git_requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, token)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def app(self) -> FakeApp:
        (only,) = self.apps.values()
        return only

    # --- the test's side ------------------------------------------------------------------

    def add_repository(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.id] = repo
        return repo

    def clone_url(self, owner: str, name: str) -> str:
        return f"{self.url}/{owner}/{name}.git"

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (as once its hour is up)."""
        for issued in self.issued:
            issued.refused = True

    async def install(self, installation_id: int, account: str, repo_ids: list[int]) -> None:
        self.installations[installation_id] = set(repo_ids)
        payload = {
            "action": "created",
            "installation": self._installation(installation_id, account),
            "repositories": [self.repos[i].summary() for i in repo_ids],
            "sender": {"login": account},
        }
        await self.deliver("installation", payload)

    async def add_repositories(self, installation_id: int, account: str, ids: list[int]) -> None:
        self.installations[installation_id] |= set(ids)
        await self._repositories_changed(installation_id, account, ids, [])

    async def remove_repositories(self, installation_id: int, account: str, ids: list[int]) -> None:
        self.installations[installation_id] -= set(ids)
        await self._repositories_changed(installation_id, account, [], ids)

    async def push(self, installation_id: int, repo: FakeRepo, sha: str, before: str) -> None:
        payload = {
            "ref": f"refs/heads/{repo.default_branch}",
            "before": before,
            "after": sha,
            "created": False,
            "deleted": False,
            "forced": False,
            "repository": repo.summary()
            | {
                "owner": {"login": repo.owner, "name": repo.owner},
                "clone_url": repo.clone_url,
                "default_branch": repo.default_branch,
            },
            "head_commit": {"id": sha, "message": "change", "author": {"name": "Tester"}},
            "commits": [],
            "pusher": {"name": "tester"},
            "sender": {"login": "tester"},
            "installation": {"id": installation_id, "node_id": f"I_{installation_id}"},
        }
        await self.deliver("push", payload)

    async def deliver(self, event: str, payload: dict[str, Any]) -> httpx.Response:
        """Send a delivery to the app's webhook URL, signed as GitHub signs it."""
        app = self.app
        body = json.dumps(payload).encode()
        digest = hmac.new(app.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/fake",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-GitHub-Hook-ID": "1",
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-GitHub-Hook-Installation-Target-ID": str(app.id),
            "X-Hub-Signature-256": f"sha256={digest}",
        }
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(app.hook_url, content=body, headers=headers)
        self.deliveries.append(response)
        return response

    # --- serving --------------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[FakeGitHub]) -> None:
        async with trio.open_nursery() as nursery:
            self.port = await nursery.start(serve_app, self._make_app())
            task_status.started(self)

    def _make_app(self) -> QuartTrio:
        app = QuartTrio("fake-github")
        app.before_request(self._record)
        app.add_url_rule("/settings/apps/new", view_func=self._new_app, methods=["POST"])
        app.add_url_rule(
            "/organizations/<org>/settings/apps/new", view_func=self._new_app, methods=["POST"]
        )
        app.add_url_rule(
            "/app-manifests/<code>/conversions", view_func=self._conversion, methods=["POST"]
        )
        app.add_url_rule(
            "/app/installations/<int:installation_id>/access_tokens",
            view_func=self._access_token,
            methods=["POST"],
        )
        app.add_url_rule("/repositories/<int:repo_id>", view_func=self._repository)
        app.add_url_rule(
            "/<owner>/<name>.git/<path:rest>", view_func=self._git, methods=["GET", "POST"]
        )
        self.add_check_routes(app)
        return app

    async def _record(self) -> None:
        self.requests.append((request.method, request.path))

    async def _new_app(self, org: str | None = None) -> Response:
        state = request.args.get("state", "")
        form = parse_qs((await request.get_data()).decode())
        manifest = json.loads(form["manifest"][0])
        problem = _manifest_problem(manifest)
        if problem:
            return github_error(422, problem)
        app_id = 1000 + len(self.apps) + 1
        slug = manifest["name"].lower().replace(" ", "-")
        self.apps[app_id] = FakeApp(
            app_id,
            slug,
            manifest["name"],
            manifest,
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            secrets.token_hex(20),
            secrets.token_hex(20),
        )
        code = secrets.token_hex(10)
        self.codes[code] = app_id
        where = manifest["redirect_url"] + "?" + urlencode({"code": code, "state": state})
        return Response("", 302, headers={"Location": where})

    async def _conversion(self, code: str) -> Response:
        app_id = self.codes.pop(code, None)
        if app_id is None:
            return github_error(404, "Not Found")
        app = self.apps[app_id]
        return json_response(
            201,
            {
                "id": app.id,
                "slug": app.slug,
                "node_id": f"A_{app.id}",
                "owner": {"login": "acme", "type": "Organization"},
                "name": app.name,
                "description": app.manifest.get("description", ""),
                "external_url": app.manifest["url"],
                "html_url": f"{self.url}/apps/{app.slug}",
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
                "permissions": app.manifest["default_permissions"],
                "events": app.manifest["default_events"],
                "client_id": f"Iv1.{app.id}",
                "client_secret": app.client_secret,
                "webhook_secret": app.webhook_secret,
                "pem": app.pem,
            },
        )

    async def _access_token(self, installation_id: int) -> Response:
        app = self._app_of_jwt()
        if app is None:
            return github_error(401, "A JSON web token could not be decoded")
        if self.refuse_token_requests > 0:
            self.refuse_token_requests -= 1
            return github_error(403, "This installation has been suspended")
        if installation_id not in self.installations:
            return github_error(404, "Not Found")
        token = "ghs_" + secrets.token_urlsafe(27)
        expires = time.time() + self.token_lifetime
        self.issued.append(Issued(token, installation_id, expires, app_id=app.id))
        stamp = dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return json_response(
            201,
            {
                "token": token,
                "expires_at": stamp,
                "permissions": PERMISSIONS,
                "repository_selection": "selected",
            },
        )

    async def _repository(self, repo_id: int) -> Response:
        issued = self._token_of_request()
        if issued is None:
            return github_error(401, "Bad credentials")
        repo = self.repos.get(repo_id)
        if repo is None or repo_id not in self.installations.get(issued.installation_id, set()):
            return github_error(404, "Not Found")
        return json_response(
            200,
            repo.summary()
            | {
                "owner": {"login": repo.owner, "type": "Organization"},
                "clone_url": repo.clone_url,
                "default_branch": repo.default_branch,
                "html_url": f"{self.url}/{repo.full_name}",
            },
        )

    def _app_of_jwt(self) -> FakeApp | None:
        token = _bearer(request.headers.get("Authorization", ""))
        self.jwts.append(token)
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            app = self.apps[int(claims["iss"])]
            checked = jwt.decode(
                token,
                app.private_key.public_key(),
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            self.jwt_refusals.append(type(exc).__name__)
            return None
        if checked["exp"] - checked["iat"] > 600:
            self.jwt_refusals.append("too long")
            return None
        return app

    def _live_installation_token(self, token: str) -> Issued | None:
        return next(
            (i for i in self.issued if hmac.compare_digest(i.token, token) and i.live()), None
        )

    def _covered_ids(self, issued: Issued) -> set[int]:
        return self.installations.get(issued.installation_id, set())

    def _repos_with(self, ids: set[int]) -> list[FakeRepo]:
        return [self.repos[i] for i in ids if i in self.repos]

    def _token_of_request(self) -> Issued | None:
        token = _bearer(request.headers.get("Authorization", ""))
        for issued in self.issued:
            if hmac.compare_digest(issued.token, token) and issued.live():
                return issued
        return None

    async def _git(self, owner: str, name: str, rest: str) -> Response:
        repo = next((r for r in self.repos.values() if r.full_name == f"{owner}/{name}"), None)
        issued = self._git_token()
        self.git_requests.append((request.path, issued.token if issued else None))
        if repo is None or repo.gitdir is None:
            return github_error(404, "Not Found")
        covered = issued is not None and repo.id in self.installations.get(
            issued.installation_id, set()
        )
        if not covered:
            return Response("", 401, headers={"WWW-Authenticate": 'Basic realm="GitHub"'})
        return await _http_backend(repo.gitdir, rest)

    def _git_token(self) -> Issued | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, token = base64.b64decode(value).decode(errors="replace").partition(":")
        if user != "x-access-token":
            return None
        return next(
            (i for i in self.issued if hmac.compare_digest(i.token, token) and i.live()), None
        )

    async def _repositories_changed(
        self, installation_id: int, account: str, added: list[int], removed: list[int]
    ) -> None:
        payload = {
            "action": "added" if added else "removed",
            "installation": self._installation(installation_id, account),
            "repository_selection": "selected",
            "repositories_added": [self.repos[i].summary() for i in added],
            "repositories_removed": [self.repos[i].summary() for i in removed],
            "sender": {"login": account},
        }
        await self.deliver("installation_repositories", payload)

    def _installation(self, installation_id: int, account: str) -> dict[str, Any]:
        return {
            "id": installation_id,
            "account": {"login": account, "type": "Organization"},
            "repository_selection": "selected",
            "app_id": self.app.id,
            "target_type": "Organization",
            "permissions": PERMISSIONS,
            "events": ["push", "pull_request"],
            "suspended_at": None,
        }


async def serve_github(
    *, task_status: trio.TaskStatus[FakeGitHub] = trio.TASK_STATUS_IGNORED
) -> None:
    await FakeGitHub().serve(task_status=task_status)


def basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


async def _http_backend(gitdir: Path, rest: str) -> Response:
    """Run git's own CGI program for one smart-HTTP request."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(gitdir.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "REQUEST_METHOD": request.method,
        "PATH_INFO": f"/{gitdir.name}/{rest}",
        "QUERY_STRING": request.query_string.decode(),
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
        "HTTP_GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
    }
    body = await request.get_data()
    env["CONTENT_LENGTH"] = str(len(body))
    done = await trio.run_process(
        [HTTP_BACKEND], stdin=body, capture_stdout=True, env=env, check=True
    )
    head, _, payload = done.stdout.partition(b"\r\n\r\n")
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.split()[0])
        else:
            headers[key.strip()] = value.strip()
    return Response(payload, status, headers=headers)


def _manifest_problem(manifest: dict[str, Any]) -> str | None:
    if not isinstance(manifest.get("name"), str) or not 0 < len(manifest["name"]) <= 34:
        return "name is missing or longer than 34 characters"
    if not str(manifest.get("hook_attributes", {}).get("url", "")).startswith("http"):
        return "hook_attributes.url is missing"
    if not str(manifest.get("redirect_url", "")).startswith("http"):
        return "redirect_url is missing"
    if manifest.get("default_permissions") != PERMISSIONS:
        return f"unexpected permissions {manifest.get('default_permissions')}"
    events = manifest.get("default_events")
    if not isinstance(events, list) or not {"push", "pull_request"} <= set(events):
        return f"unexpected events {events}"
    if {"installation", "installation_repositories"} & set(events):
        # GitHub sends these to every app and refuses them as default_events.
        return "Default events unsupported: installation"
    return None


def _bearer(header: str) -> str:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""
