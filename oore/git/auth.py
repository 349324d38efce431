"""How git proves who it is to a repository's host, for one fetch.

A credential travels to git only through its environment (an ``http.extraHeader`` set with
``GIT_CONFIG_COUNT``, or ``GIT_SSH_COMMAND`` naming a key file only the daemon can read): never in
the remote URL, an argument visible in ``ps``, a log line or an error message. Where credentials
come from (a repository's own token or deploy key, the GitHub App, GitLab OAuth) is
`oore.providers`' business; git only gets the result.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, repr=False)
class GitCredential:
    """One of: a whole HTTP ``Authorization`` header value (``Basic ...``/``Bearer ...``), or an
    OpenSSH private key. `repr` and `str` never show it."""

    http_authorization: str | None = None
    ssh_private_key: bytes | None = None

    def __post_init__(self) -> None:
        if (self.http_authorization is None) == (self.ssh_private_key is None):
            raise ValueError("a git credential is an HTTP authorization or an SSH key, one of them")

    def __repr__(self) -> str:
        kind = "http" if self.http_authorization is not None else "ssh"
        return f"GitCredential({kind}, <redacted>)"

    __str__ = __repr__
