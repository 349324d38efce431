"""Per-repository bare mirrors: create them, fetch exactly the refs a build needs, look up commits.

The only remote a mirror ever fetches is its registered URL, stored as ``remote.origin.url``:
`fetch` names the remote, never a URL, so a webhook payload cannot point the daemon elsewhere and
a token inside the URL never appears in a process listing. Fetched refs keep their own names
(``refs/heads/main``, ``refs/pull/7/head``), force-updated because branches are force-pushed.
A private repository's credential reaches git through its environment (`oore.git.credentials`);
SSH host keys are pinned in ``<mirrors_dir>/ssh/known_hosts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import trio

from oore.git.auth import GitCredential
from oore.git.credentials import credential_env
from oore.git.errors import CredentialsRefused, FetchError, RefNotFound, redact
from oore.git.names import check_ref, check_repository_id, check_url, is_sha
from oore.git.process import failure, git_output, run_git

FETCH_HINT = (
    "Check that the repository URL is right, that the branch, tag or commit still exists "
    "upstream, and that Oore's credentials can read the repository."
)
AUTH_HINT = (
    "The server refused to serve the repository without valid credentials. Give Oore a token "
    "(`oore repo credentials set REPO`) or a deploy key (`oore repo deploy-key REPO`), and check "
    "that it can still read the repository."
)
HOST_KEY_HINT = (
    "The SSH server's host key is not the one Oore recorded on its first fetch. If the server's "
    "key really changed, remove its line from {known_hosts}."
)
UNKNOWN_HOST_HINT = (
    "ssh does not know the server's host key. Without a deploy key Oore fetches with the daemon "
    "user's own ssh setup (its ~/.ssh keys and known_hosts); give the repository a deploy key "
    "(`oore repo deploy-key REPO`: Oore then records the host's key on first use), or add the "
    "host to that known_hosts."
)
# What git and ssh print when credentials are missing or refused (git's http.c, ssh's
# sshconnect2.c); a repository a token cannot see is often answered "not found" instead.
_AUTH_FAILURES = (
    "Authentication failed",
    "could not read Username",
    "could not read Password",
    "Permission denied (publickey",
    "HTTP Basic: Access denied",
    "returned error: 401",
    "returned error: 403",
)


@dataclass(frozen=True, slots=True, repr=False)
class Mirror:
    path: Path  # a bare repository: <mirrors_dir>/<repository_id>.git
    url: str  # the registered clone URL, the only remote ever fetched

    def __repr__(self) -> str:
        return f"Mirror(path={str(self.path)!r}, url={redact(self.url)!r})"


async def ensure_mirror(mirrors_dir: Path, repository_id: str, url: str) -> Mirror:
    """The mirror of `repository_id`, created on first use; its remote follows `url`."""
    path = mirrors_dir / f"{check_repository_id(repository_id)}.git"
    url = check_url(url)
    if await _remote_url(path) == url:
        return Mirror(path, url)  # the common case: one git call, and nothing written
    # `git init` on an existing repository only re-reads it, so there is no check-then-create race.
    init = ["-c", "init.defaultBranch=main", "init", "--quiet", "--bare", str(path)]
    await git_output(init, f"creating the mirror {path}", "Check that the directory is writable.")
    configure = ["--git-dir", str(path), "config", "--replace-all", "remote.origin.url"]
    await git_output([*configure, url], f"setting the remote of the mirror {path}")
    return Mirror(path, url)


async def _remote_url(path: Path) -> str | None:
    if not await trio.Path(path / "config").exists():
        return None
    result = await run_git(["--git-dir", str(path), "config", "--get", "remote.origin.url"])
    return result.stdout.decode().strip() if result.returncode == 0 else None


def ssh_dir(mirrors_dir: Path) -> Path:
    """Where Oore's known_hosts and (while a fetch runs) its key files live."""
    return mirrors_dir / "ssh"


# The bound lives here, not in the caller's cancel scope, so that running out of time becomes a
# FetchError naming the URL and the limit (a build errors with that reason) instead of a bare
# TooSlowError; the API asks for the parameter.
async def fetch(
    mirror: Mirror,
    refs: Sequence[str],
    *,
    timeout: float = 600,  # noqa: ASYNC109
    credential: GitCredential | None = None,
) -> None:
    """Fetch full refs and commit shas from the registered URL, all within `timeout` seconds,
    proving who we are with `credential` (None: a public repository)."""
    shas = [ref for ref in refs if is_sha(ref)]
    names = [check_ref(ref) for ref in refs if not is_sha(ref)]
    try:
        with trio.fail_after(timeout):
            where = ssh_dir(mirror.path.parent)
            async with credential_env(credential, mirror.url, where) as env:
                if names:
                    refspecs = [f"+{name}:{name}" for name in names]
                    await _fetch(mirror, refspecs, ", ".join(names), env)
                for sha in shas:
                    await _fetch_commit(mirror, sha, env)
    except trio.TooSlowError:
        raise FetchError(
            f"fetch of {redact(mirror.url)} timed out after {timeout:g} s. Check that the "
            "server is reachable from this machine, or raise the fetch timeout."
        ) from None


async def _fetch_commit(mirror: Mirror, sha: str, env: dict[str, str]) -> None:
    if await has_commit(mirror, sha):
        return
    try:
        await _fetch(mirror, [sha], sha, env)
    except FetchError:
        # Servers without uploadpack.allowReachableSHA1InWant (and protocol v0) refuse a sha
        # they did not advertise; a pushed commit is almost always on some branch.
        await _fetch(mirror, ["+refs/heads/*:refs/heads/*"], "all branches", env)
    if not await has_commit(mirror, sha):
        raise FetchError(
            f"commit {sha} is not in {redact(mirror.url)}: fetching it by sha failed and no "
            "branch contains it. It may have been force-pushed away; push it again or retry "
            "with a newer commit."
        )


async def _fetch(mirror: Mirror, refspecs: list[str], what: str, env: dict[str, str]) -> None:
    # --no-tags: tags arrive only when asked for (an explicit refspec is fetched regardless).
    args = ["--git-dir", str(mirror.path), "fetch", "--no-tags", "--no-write-fetch-head"]
    result = await run_git([*args, "origin", *refspecs], env=env)
    if result.returncode != 0:
        hint = _hint(result.stderr, mirror)
        error = CredentialsRefused if hint is AUTH_HINT else FetchError
        raise error(failure(f"fetch of {what} from {redact(mirror.url)}", result, hint))


def _hint(stderr: bytes, mirror: Mirror) -> str:
    said = stderr.decode("utf-8", errors="replace")
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in said:
        return HOST_KEY_HINT.format(known_hosts=ssh_dir(mirror.path.parent) / "known_hosts")
    if "Host key verification failed" in said:
        return UNKNOWN_HOST_HINT
    if any(sign in said for sign in _AUTH_FAILURES):
        return AUTH_HINT
    return FETCH_HINT


def missing_commit(mirror: Mirror, sha: str) -> RefNotFound:
    where = redact(mirror.url)
    return RefNotFound(f"commit {sha} is not in the mirror of {where}; fetch it first.")


async def has_commit(mirror: Mirror, sha: str) -> bool:
    """Whether the mirror holds commit `sha` (a full sha; anything else is not a commit we have)."""
    if not is_sha(sha):
        return False
    result = await run_git(["--git-dir", str(mirror.path), "cat-file", "-e", f"{sha}^{{commit}}"])
    return result.returncode == 0


async def resolve(mirror: Mirror, ref: str) -> str:
    """The commit sha `ref` (full ref, branch or tag name, sha) names in the mirror.

    A short name follows git's lookup order (a tag before a branch of the same name); pass the
    full ref to be exact. Annotated tags are peeled to their commit.
    """
    args = ["--git-dir", str(mirror.path), "rev-parse", "--verify", "--quiet", "--end-of-options"]
    result = await run_git([*args, f"{ref}^{{commit}}"])
    if result.returncode != 0:
        raise RefNotFound(
            f"{ref!r} names no commit in the mirror of {redact(mirror.url)}; fetch it first, "
            "or check that the branch or tag exists upstream."
        )
    return result.stdout.decode().strip()
