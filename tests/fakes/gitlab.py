"""A GitLab instance on loopback: OAuth, the REST API Oore uses, git over HTTP, and hook delivery.

It behaves like GitLab where Oore depends on it, and checks what Oore sends:
- OAuth (https://docs.gitlab.com/api/oauth2/): `GET /oauth/authorize` plays the user who
  consents (a 302 to the registered redirect URI with a code and the state), `POST /oauth/token`
  takes the code grant (each code once, for the redirect URI it was issued for) and the refresh
  grant (each refresh token once), checks the application id and secret, and issues access
  tokens that expire after `access_ttl` seconds (or at once with `expire_access_tokens`).
- REST v4, every call needing a live `Authorization: Bearer` access token (401 otherwise):
  `GET /user`, `GET /projects` (honouring `min_access_level`, paginated with `X-Next-Page`),
  `GET /projects/:id`, `POST /projects/:id/hooks` (Maintainer only; url and token required) and
  `DELETE /projects/:id/hooks/:hook_id`, `POST /projects/:id/statuses/:sha` (GitLab's states;
  the state a commit already has is refused with 400 "Cannot transition status", as GitLab
  does; a token in `personal_tokens` works too, also as `PRIVATE-TOKEN`).
- Git smart HTTP on the same origin (`{url}/{namespace}/{path}.git`), as in GitLab, through
  `git http-backend` (engineer A's tests/fakes/git_http.py), refusing anything but
  `Basic base64("oauth2:" + live access token)`.
- `deliver_push` sends a Push Hook to every hook of a project with that hook's token, as GitLab.
Start it in the test's nursery: ``gitlab = await nursery.start(FakeGitLab(tmp_path).serve)``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import httpx
import trio

from tests.fakes.git_http import Request, _read_request, _run_backend

APPLICATION_ID = "3f1e0a7c9b2d4e6f8a0b1c2d3e4f5a6b"
APPLICATION_SECRET = "gloas-fake-application-secret-0123456789abcdef"
MAINTAINER, DEVELOPER = 40, 30
PROJECT = re.compile(r"^/api/v4/projects/(\d+)$")
HOOKS = re.compile(r"^/api/v4/projects/(\d+)/hooks$")
HOOK = re.compile(r"^/api/v4/projects/(\d+)/hooks/(\d+)$")
STATUSES = re.compile(r"^/api/v4/projects/([^/]+)/statuses/([^/]+)$")
STATUS_STATES = ("pending", "running", "success", "failed", "canceled", "skipped")
# The transitions GitLab's commit status state machine names, by the state asked for.
EVENTS = {
    "pending": "enqueue",
    "running": "run",
    "success": "succeed",
    "failed": "drop",
    "canceled": "cancel",
    "skipped": "skip",
}


@dataclass(slots=True)
class Project:
    id: int
    namespace: str
    path: str
    gitdir: Path
    source: Path  # the working repository the test commits in
    access_level: int = MAINTAINER
    default_branch: str = "main"
    described: dict[str, Any] = field(default_factory=dict)  # fields answered instead of real ones

    @property
    def path_with_namespace(self) -> str:
        return f"{self.namespace}/{self.path}"


@dataclass(slots=True)
class Hook:
    id: int
    project_id: int
    url: str
    token: str
    body: dict[str, Any]  # as Oore sent it


@dataclass(frozen=True, slots=True)
class StatusCall:
    project: str  # as named in the path: an id, or the URL-encoded path
    sha: str
    body: dict[str, Any]
    key: str | None  # its Idempotency-Key
    token: str
    status: int  # what the fake answered


@dataclass(frozen=True, slots=True)
class GitSeen:
    method: str
    path: str
    authorised: bool


@dataclass(slots=True)
class FakeGitLab:
    root: Path
    access_ttl: int = 7200
    username: str = "maintainer"
    per_page_cap: int = 2  # small pages, so that paging is exercised
    next_page: str | None = None  # answered as X-Next-Page instead of the real next page
    token_delay: float = 0.0  # seconds between using up a refresh token and answering
    refresh_used: trio.Event = field(default_factory=trio.Event)  # a refresh token was used up
    port: int = 0
    redirect_uri: str = ""  # the application's registered redirect URI; set once Oore is up
    codes: dict[str, str] = field(default_factory=dict)  # code -> redirect URI
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expires (time.time)
    refresh_tokens: set[str] = field(default_factory=set)
    issued: list[str] = field(default_factory=list)  # every access and refresh token issued
    grants: list[str] = field(default_factory=list)  # grant types served, in order
    refused_tokens: int = 0  # API calls refused for an expired or unknown token
    projects: dict[int, Project] = field(default_factory=dict)
    hooks: dict[int, Hook] = field(default_factory=dict)
    git_seen: list[GitSeen] = field(default_factory=list)
    api_calls: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    personal_tokens: set[str] = field(default_factory=set)  # accepted besides OAuth tokens
    status_calls: list[StatusCall] = field(default_factory=list)
    commit_states: dict[tuple[str, str, str], str] = field(default_factory=dict)
    refuse_next: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, *, task_status: trio.TaskStatus[FakeGitLab]) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self)
        await trio.serve_listeners(self._handle, listeners)

    # --- what a test arranges ------------------------------------------------------------------

    def add_project(
        self, namespace: str, path: str, source: Path, *, access_level: int = MAINTAINER
    ) -> Project:
        project_id = 100 + len(self.projects)
        gitdir = self.root / "gitlab" / namespace / f"{path}.git"
        gitdir.parent.mkdir(parents=True, exist_ok=True)
        _git("clone", "--quiet", "--bare", str(source), str(gitdir))
        project = Project(project_id, namespace, path, gitdir, source, access_level)
        self.projects[project_id] = project
        return project

    def publish(self, project: Project) -> None:
        """Make the served repository what the test's working repository now is."""
        _git("-C", str(project.gitdir), "fetch", "--quiet", str(project.source), "+refs/*:refs/*")

    def expire_access_tokens(self) -> None:
        """As when GitLab revokes tokens or expires them early: refresh tokens still work."""
        for token in self.access_tokens:
            self.access_tokens[token] = 0.0

    def project_hooks(self, project_id: int) -> list[Hook]:
        return [hook for hook in self.hooks.values() if hook.project_id == project_id]

    async def deliver_push(self, project: Project, before: str, after: str) -> list[httpx.Response]:
        """A Push Hook for `main` to each of the project's hooks; their answers."""
        payload = {
            "object_kind": "push",
            "event_name": "push",
            "before": before,
            "after": after,
            "ref": f"refs/heads/{project.default_branch}",
            "checkout_sha": after,
            "user_username": self.username,
            "project_id": project.id,
            "project": {
                "id": project.id,
                "path_with_namespace": project.path_with_namespace,
                "default_branch": project.default_branch,
            },
            "commits": [{"id": after, "message": "change\n"}],
            "total_commits_count": 1,
        }
        answers = []
        async with httpx.AsyncClient(timeout=10) as http:
            for hook in self.project_hooks(project.id):
                headers = {
                    "X-Gitlab-Event": "Push Hook",
                    "X-Gitlab-Token": hook.token,
                    "X-Gitlab-Event-UUID": secrets.token_hex(16),
                    "Content-Type": "application/json",
                }
                answer = await http.post(hook.url, content=json.dumps(payload), headers=headers)
                answers.append(answer)
        return answers

    # --- the server --------------------------------------------------------------------------

    async def _handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            try:
                request = await _read_request(stream)
            except (ValueError, trio.BrokenResourceError):
                return
            try:
                await stream.send_all(await self._answer(request))
            except trio.BrokenResourceError:
                return

    async def _answer(self, request: Request) -> bytes:
        path = request.path
        if path == "/oauth/authorize" and request.method == "GET":
            return self._authorize(request)
        if path == "/oauth/token" and request.method == "POST":
            return await self._token(request)
        if path.startswith("/api/v4/"):
            return self._api(request)
        if ".git/" in path:
            return await self._git(request)
        return _json(404, {"message": "404 Not Found"})

    def _authorize(self, request: Request) -> bytes:
        query = _single(parse_qs(request.query))
        expected = {
            "client_id": APPLICATION_ID,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
        }
        for name, value in expected.items():
            if query.get(name) != value:
                return _json(400, {"error": "invalid_request", "error_description": name})
        if "api" not in query.get("scope", "").split() or not query.get("state"):
            return _json(400, {"error": "invalid_scope"})
        code = secrets.token_hex(16)
        self.codes[code] = self.redirect_uri
        target = f"{self.redirect_uri}?{urlencode({'code': code, 'state': query['state']})}"
        return _http(302, b"", {"Location": target})

    async def _token(self, request: Request) -> bytes:
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return _json(400, {"error": "invalid_request"})
        form = _single(parse_qs(request.body.decode()))
        if (form.get("client_id"), form.get("client_secret")) != (
            APPLICATION_ID,
            APPLICATION_SECRET,
        ):
            return _json(401, {"error": "invalid_client"})
        if form.get("redirect_uri") != self.redirect_uri:
            return _json(400, {"error": "invalid_grant", "error_description": "redirect_uri"})
        grant = form.get("grant_type")
        if grant == "authorization_code":
            if self.codes.pop(form.get("code", ""), None) != self.redirect_uri:
                return _json(400, {"error": "invalid_grant"})
        elif grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return _json(400, {"error": "invalid_grant"})
            self.refresh_tokens.discard(form["refresh_token"])
            self.refresh_used.set()
            await trio.sleep(self.token_delay)
        else:
            return _json(400, {"error": "unsupported_grant_type"})
        self.grants.append(grant)
        return _json(200, self._issue())

    def _issue(self) -> dict[str, Any]:
        access = "fake-access-" + secrets.token_hex(20)
        refresh = "fake-refresh-" + secrets.token_hex(20)
        self.access_tokens[access] = time.time() + self.access_ttl
        self.refresh_tokens.add(refresh)
        self.issued += [access, refresh]
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
            "refresh_token": refresh,
            "scope": "api",
            "created_at": int(time.time()),
        }

    def _live(self, token: str) -> bool:
        return self.access_tokens.get(token, 0.0) > time.time()

    def _api(self, request: Request) -> bytes:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if "private-token" in request.headers:
            scheme, token = "Bearer", request.headers["private-token"]
        if scheme != "Bearer" or not (self._live(token) or token in self.personal_tokens):
            self.refused_tokens += 1
            return _json(401, {"message": "401 Unauthorized"})
        self.api_calls.append((request.method, request.path, parse_qs(request.query)))
        route = (request.method, request.path)
        if route == ("GET", "/api/v4/user"):
            return _json(200, {"id": 1, "username": self.username})
        if route == ("GET", "/api/v4/projects"):
            return self._list_projects(request)
        if request.method == "GET" and (match := PROJECT.match(request.path)):
            project = self.projects.get(int(match[1]))
            if project is None:
                return _json(404, {"message": "404 Project Not Found"})
            return _json(200, self._describe(project))
        if request.method == "POST" and (match := HOOKS.match(request.path)):
            return self._add_hook(int(match[1]), request)
        if request.method == "DELETE" and (match := HOOK.match(request.path)):
            return self._delete_hook(int(match[1]), int(match[2]))
        if request.method == "POST" and (match := STATUSES.match(request.path)):
            return self._set_status(match[1], match[2], request, token)
        return _json(404, {"message": "404 Not Found"})

    def _list_projects(self, request: Request) -> bytes:
        query = _single(parse_qs(request.query))
        least = int(query.get("min_access_level", "0"))
        per_page = min(int(query.get("per_page", "20")), self.per_page_cap)
        page = int(query.get("page", "1"))
        visible = [p for p in self.projects.values() if p.access_level >= least]
        chunk = visible[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(visible)
        next_page = str(page + 1) if more else ""
        headers = {"X-Page": str(page), "X-Next-Page": self.next_page or next_page}
        return _json(200, [self._describe(p) for p in chunk], headers)

    def _describe(self, project: Project) -> dict[str, Any]:
        return {
            "id": project.id,
            "name": project.path,
            "path": project.path,
            "path_with_namespace": project.path_with_namespace,
            "namespace": {"full_path": project.namespace, "path": project.namespace},
            "default_branch": project.default_branch,
            "http_url_to_repo": f"{self.url}/{project.path_with_namespace}.git",
            "ssh_url_to_repo": f"git@127.0.0.1:{project.path_with_namespace}.git",
            "web_url": f"{self.url}/{project.path_with_namespace}",
        } | project.described

    def _add_hook(self, project_id: int, request: Request) -> bytes:
        project = self.projects.get(project_id)
        if project is None:
            return _json(404, {"message": "404 Project Not Found"})
        if project.access_level < MAINTAINER:
            return _json(403, {"message": "403 Forbidden"})
        if not request.headers.get("content-type", "").startswith("application/json"):
            return _json(400, {"error": "hook body must be JSON here"})
        body = json.loads(request.body)
        if not body.get("url") or not body.get("token"):
            return _json(400, {"message": {"url": ["can't be blank"]}})
        hook = Hook(1000 + len(self.hooks), project_id, body["url"], body["token"], body)
        self.hooks[hook.id] = hook
        # GitLab never answers a hook's token.
        shown = {k: v for k, v in body.items() if k != "token"}
        return _json(201, {"id": hook.id, "project_id": project_id, **shown})

    def _set_status(self, project_ref: str, sha: str, request: Request, token: str) -> bytes:
        answer = self._status_answer(project_ref, sha, request)
        body = json.loads(request.body or b"{}")
        status = int(answer.split(b" ", 2)[1])
        key = request.headers.get("idempotency-key")
        self.status_calls.append(StatusCall(project_ref, sha, body, key, token, status))
        return answer

    def _status_answer(self, project_ref: str, sha: str, request: Request) -> bytes:
        if self.refuse_next:
            status, headers = self.refuse_next.pop(0)
            return _json(status, {"message": "refused by the test"}, headers)
        project = self._project_of(project_ref)
        if project is None:
            return _json(404, {"message": "404 Project Not Found"})
        body = json.loads(request.body or b"{}")
        state, name = body.get("state"), body.get("name") or "default"
        if state not in STATUS_STATES:
            return _json(400, {"error": "state does not have a valid value"})
        if not re.fullmatch(r"[0-9a-f]{40}", sha):
            return _json(404, {"message": "404 Commit Not Found"})
        where = (str(project.id), sha, name)
        if self.commit_states.get(where) == state:
            return _json(
                400,
                {"message": f"Cannot transition status via :{EVENTS[state]} from :{state}"},
            )
        self.commit_states[where] = state
        answer = {
            "id": 500 + len(self.status_calls),
            "sha": sha,
            "ref": body.get("ref"),
            "status": state,
            "name": name,
            "target_url": body.get("target_url"),
            "description": body.get("description"),
            "created_at": "2026-01-01T00:00:00.000Z",
            "author": {"username": self.username},
            "allow_failure": False,
        }
        return _json(201, answer)

    def _project_of(self, ref: str) -> Project | None:
        if ref.isdigit():
            return self.projects.get(int(ref))
        path = unquote(ref)
        return next((p for p in self.projects.values() if p.path_with_namespace == path), None)

    def _delete_hook(self, project_id: int, hook_id: int) -> bytes:
        hook = self.hooks.get(hook_id)
        if hook is None or hook.project_id != project_id:
            return _json(404, {"message": "404 Not found"})
        del self.hooks[hook_id]
        return _http(204, b"", {})

    async def _git(self, request: Request) -> bytes:
        name, _, rest = request.path.lstrip("/").partition(".git/")
        project = next((p for p in self.projects.values() if p.path_with_namespace == name), None)
        authorised = self._git_authorised(request.headers.get("authorization", ""))
        self.git_seen.append(GitSeen(request.method, request.path, authorised))
        if not authorised:
            return _http(401, b"", {"WWW-Authenticate": 'Basic realm="GitLab"'})
        if project is None:
            return _http(404, b"", {})
        return await _run_backend(project.gitdir, rest, request)

    def _git_authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme != "Basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        # A personal or project token works with any user name, as on GitLab.
        return (user == "oauth2" and self._live(password)) or password in self.personal_tokens


def _single(query: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in query.items()}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> bytes:
    return _http(
        status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}
    )


def _http(status: int, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def _git(*args: str) -> None:
    subprocess.run(
        ["git", *args],
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"},
    )


def authorize_query(url: str) -> dict[str, str]:
    """The query of a sign-in URL Oore made, one value per name."""
    return _single(parse_qs(urlsplit(url).query))
