"""A repository's own git credential: an HTTPS token, or an SSH deploy key Oore generates.

The first source of the daemon's `CredentialChain`. A credential is bound to the origin (scheme,
host and port) of the clone URL it was set for: if the URL is later changed to point elsewhere,
the credential is not sent there (whoever may change a URL could otherwise have a token sent to
a server of their own), and a warning says to set it again. Tokens go to git as HTTP Basic
(GitHub and GitLab take any user name with a token; Bitbucket wants the account's), deploy keys
as an OpenSSH private key file (see `oore.git.credentials`).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

from oore.crypto import Sealer, aad
from oore.git.auth import GitCredential
from oore.git.names import origin_of
from oore.ids import new_id
from oore.model import Repository, utcnow
from oore.store.base import CredentialKind, CredentialStore, RepositoryCredential

log = logging.getLogger("oore.providers.credentials")

DEFAULT_USERNAME = "x-access-token"
HTTP_SCHEMES = ("http", "https")


def secret_aad(credential_id: str) -> bytes:
    return aad("repository_credentials", credential_id, "secret")


def basic_authorization(username: str, token: str) -> str:
    pair = f"{username}:{token}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


@dataclass(frozen=True, slots=True)
class NewCredential:
    """A credential to store: what the API shows, and the secret to seal for it."""

    credential: RepositoryCredential
    secret: bytes


def https_token(repo: Repository, token: str, username: str | None) -> NewCredential:
    credential = _credential(repo, CredentialKind.HTTPS_TOKEN, username or DEFAULT_USERNAME, None)
    return NewCredential(credential, token.encode())


def ssh_deploy_key(repo: Repository) -> NewCredential:
    """A new ed25519 key pair; the public key names the repository, to be told apart in lists."""
    # Imported here: an idle daemon need not load cryptography's native module (oore.crypto).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    line = f"{public} oore:{repo.full_name}"
    return NewCredential(_credential(repo, CredentialKind.SSH_DEPLOY_KEY, None, line), private)


def _credential(
    repo: Repository, kind: CredentialKind, username: str | None, public_key: str | None
) -> RepositoryCredential:
    return RepositoryCredential(
        id=new_id(),
        repository_id=repo.id,
        kind=kind,
        username=username,
        public_key=public_key,
        origin=origin_of(repo.clone_url),
        created_at=utcnow(),
    )


def unusable_reason(
    kind: CredentialKind, clone_url: str, *, allow_plain_http: bool = False
) -> str | None:
    """Why a credential of `kind` cannot be used with `clone_url`, or None when it can. A token
    is never sent over plain http unless OORE_ALLOW_PRIVATE_PROVIDERS allows a private host."""
    origin = origin_of(clone_url)
    scheme = origin.partition("://")[0]
    allowed = HTTP_SCHEMES if allow_plain_http else ("https",)
    if kind is CredentialKind.HTTPS_TOKEN and scheme not in allowed:
        return (
            "a token is sent over HTTPS only, and the clone URL is not an https:// URL "
            "(OORE_ALLOW_PRIVATE_PROVIDERS=1 allows http:// on a private network)"
        )
    if kind is CredentialKind.SSH_DEPLOY_KEY and scheme != "ssh":
        return (
            "a deploy key is used over SSH, and the clone URL is not an SSH URL "
            "(ssh://git@host/owner/repo.git or git@host:owner/repo.git)"
        )
    return None


class RepositoryCredentials:
    """`CredentialSource`: the credential set for the repository itself, if any."""

    def __init__(self, store: CredentialStore, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer

    async def refused(self, repo: Repository, credential: GitCredential) -> None:
        """Nothing to renew: a repository's own token is replaced by whoever set it."""

    async def credential_for(self, repo: Repository) -> GitCredential | None:
        found = await self.store.sealed_repository_credential(repo.id)
        if found is None:
            return None
        credential, sealed = found
        if origin_of(repo.clone_url) != credential.origin:
            log.warning(
                "repository %s: its credential was set for %s but its clone URL now points at "
                "%s; it is not sent there. Set the credential again to use it with the new URL.",
                repo.full_name,
                credential.origin or "a local path",
                origin_of(repo.clone_url) or "a local path",
            )
            return None
        secret = self.sealer.open(sealed, secret_aad(credential.id))
        if credential.kind is CredentialKind.SSH_DEPLOY_KEY:
            return GitCredential(ssh_private_key=secret)
        username = credential.username or DEFAULT_USERNAME
        return GitCredential(http_authorization=basic_authorization(username, secret.decode()))
