"""Fetching private repositories: a token over real smart HTTP, a deploy key over a real sshd.

The hosts refuse anything without the credential, so a fetch that succeeds proves git sent it;
the tests then look for the secret where it must never be: the error of a refused fetch, the
command line of every process seen during the fetch, and the files left behind.
"""

from __future__ import annotations

import base64
import functools
import os
from pathlib import Path

import pytest
import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from oore.git import FetchError, GitCredential, ensure_mirror, fetch, resolve, ssh_dir
from oore.git.credentials import http_env, remove_stale_keys, ssh_env
from tests.fakes.git_http import GitHttpServer, serve_git_http
from tests.fakes.processes import ArgvWatcher
from tests.fakes.sshd import Sshd, needs_sshd, start_sshd

from .conftest import Upstream

TOKEN = "ghp_test0credential0never0shown0aa11"
AUTHORIZATION = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()


async def private_http(nursery: trio.Nursery, upstream: Upstream, hold: float = 0) -> GitHttpServer:
    repos = {"app.git": upstream.path / ".git"}
    serve = functools.partial(serve_git_http, repos, AUTHORIZATION, hold=hold)
    server: GitHttpServer = await nursery.start(serve)
    return server


async def test_a_private_http_repository_is_refused_without_the_token_and_fetched_with_it(
    tmp_path: Path, upstream: Upstream, nursery: trio.Nursery
) -> None:
    server = await private_http(nursery, upstream, hold=0.2)
    mirror = await ensure_mirror(tmp_path / "mirrors", "repo1", server.url("app.git"))

    with pytest.raises(FetchError) as refused:
        await fetch(mirror, ["refs/heads/main"])
    assert "oore repo credentials set" in refused.value.message  # says what to do
    assert server.seen
    assert not any(s.authorised for s in server.seen)

    watcher = ArgvWatcher()
    nursery.start_soon(watcher.run)
    credential = GitCredential(http_authorization=AUTHORIZATION)
    await fetch(mirror, ["refs/heads/main"], credential=credential)
    assert await resolve(mirror, "refs/heads/main") == upstream.commits["B"]
    assert any(s.authorised for s in server.seen)
    # The watcher saw the fetch's own processes (they ran while the server held each request)...
    assert watcher.matching("git-remote-http") or watcher.matching(" fetch ")
    # ...and no command line on the machine held the token, or the header built from it.
    assert watcher.matching(TOKEN) == []
    assert watcher.matching(AUTHORIZATION.split()[1]) == []

    wrong = GitCredential(http_authorization="Basic " + base64.b64encode(b"x:nope").decode())
    with pytest.raises(FetchError) as denied:
        await fetch(mirror, ["refs/tags/v1.0"], credential=wrong)
    assert "nope" not in denied.value.message
    assert "credentials" in denied.value.message


def deploy_key() -> tuple[bytes, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    return private, public


@pytest.fixture
async def sshd(tmp_path: Path) -> Sshd:
    server = await start_sshd(tmp_path / "sshd")
    try:
        yield server
    finally:
        server.stop()


@needs_sshd
async def test_a_deploy_key_fetches_over_ssh_and_leaves_no_key_behind(
    tmp_path: Path, upstream: Upstream, sshd: Sshd
) -> None:
    private, public = deploy_key()
    sshd.authorize(public)
    mirrors = tmp_path / "mirrors"
    mirror = await ensure_mirror(mirrors, "repo1", sshd.url(upstream.path / ".git"))

    with pytest.raises(FetchError) as refused:
        await fetch(mirror, ["refs/heads/main"])  # no key: the server says no, git asks nothing
    assert "oore repo deploy-key" in refused.value.message

    await fetch(mirror, ["refs/heads/main"], credential=GitCredential(ssh_private_key=private))
    assert await resolve(mirror, "refs/heads/main") == upstream.commits["B"]
    assert "Accepted publickey" in sshd.log()
    # The host key was pinned in Oore's own known_hosts; the key file is gone.
    keys_dir = ssh_dir(mirrors)
    assert sorted(p.name for p in keys_dir.iterdir()) == ["known_hosts"]
    assert sshd.host_public_key.split()[1] in (keys_dir / "known_hosts").read_text()
    assert oct(keys_dir.stat().st_mode & 0o777) == "0o700"

    other, _ = deploy_key()  # a key the server does not know
    with pytest.raises(FetchError) as denied:
        await fetch(mirror, ["refs/tags/v1.0"], credential=GitCredential(ssh_private_key=other))
    assert "deploy-key" in denied.value.message
    assert "PRIVATE KEY" not in denied.value.message


@needs_sshd
async def test_a_changed_host_key_is_refused(
    tmp_path: Path, upstream: Upstream, sshd: Sshd
) -> None:
    private, public = deploy_key()
    sshd.authorize(public)
    mirrors = tmp_path / "mirrors"
    mirror = await ensure_mirror(mirrors, "repo1", sshd.url(upstream.path / ".git"))
    known_hosts = ssh_dir(mirrors) / "known_hosts"
    ssh_dir(mirrors).mkdir(mode=0o700)
    # Someone else's key recorded for this host and port: as if the server were replaced.
    imposter = Ed25519PrivateKey.generate().public_key()
    line = imposter.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {line}\n")
    with pytest.raises(FetchError) as refused:
        await fetch(mirror, ["refs/heads/main"], credential=GitCredential(ssh_private_key=private))
    assert str(known_hosts) in refused.value.message


def test_ssh_options_survive_a_path_with_spaces(tmp_path: Path) -> None:
    command = ssh_env(Path("/data dir/key-1/id"), Path("/data dir/known_hosts"))["GIT_SSH_COMMAND"]
    assert "-i '/data dir/key-1/id'" in command
    assert """'UserKnownHostsFile="/data dir/known_hosts"'""" in command
    assert "IdentitiesOnly=yes" in command
    assert "StrictHostKeyChecking=accept-new" in command


def test_stale_key_files_are_removed(tmp_path: Path) -> None:
    left = tmp_path / "ssh" / "key-abc"
    left.mkdir(parents=True)
    (left / "id").write_bytes(b"secret")
    (tmp_path / "ssh" / "known_hosts").write_text("kept\n")
    remove_stale_keys(tmp_path / "ssh")
    assert sorted(os.listdir(tmp_path / "ssh")) == ["known_hosts"]


def test_the_header_is_scoped_to_the_clone_urls_origin() -> None:
    env = http_env(AUTHORIZATION, "https://git.example:8443")
    assert env["GIT_CONFIG_KEY_0"] == "http.https://git.example:8443/.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"] == f"Authorization: {AUTHORIZATION}"
    # git would send the header on to wherever a redirect points: none is followed.
    assert env["GIT_CONFIG_KEY_1"] == "http.https://git.example:8443/.followRedirects"
    assert (env["GIT_CONFIG_COUNT"], env["GIT_CONFIG_VALUE_1"]) == ("2", "false")
