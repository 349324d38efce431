"""Real git repositories for end-to-end tests: made in `tmp_path`, served to the daemon as file://.

`GitRepo` wraps a non-bare repository: write files (a `codemagic.yaml` among them), commit, branch,
tag, and publish a pull request's head as `refs/pull/N/head` (the ref GitHub serves). Every call
returns the commit sha it made, so a test can put it in a webhook payload. Git runs with a fixed
identity and no user or system configuration, so the machine's git setup cannot change a result.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "Oore Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.com",
    "GIT_COMMITTER_NAME": "Oore Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.com",
}


def _env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LANG": "C",
        **IDENTITY,
    }


class GitRepo:
    def __init__(self, path: Path, *, branch: str = "main") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", f"--initial-branch={branch}")

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            env=_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def write(self, files: dict[str, str]) -> None:
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)

    def commit(self, message: str = "change", files: dict[str, str] | None = None) -> str:
        """Write `files` (if any), commit everything, return the new commit's sha."""
        self.write(files or {})
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, *, start: str = "HEAD") -> None:
        """Create `name` at `start` and switch to it."""
        self.git("checkout", "--quiet", "-b", name, start)

    def checkout(self, name: str) -> None:
        self.git("checkout", "--quiet", name)

    def tag(self, name: str, *, annotated: bool = False, at: str = "HEAD") -> str:
        """Tag `at`; return the commit the tag names."""
        if annotated:
            self.git("tag", "-a", "-m", f"release {name}", name, at)
        else:
            self.git("tag", name, at)
        return self.git("rev-parse", f"{name}^{{commit}}")

    def pull_request(self, number: int, sha: str) -> None:
        """Serve `sha` as GitHub does a pull request's head: refs/pull/<number>/head."""
        self.git("update-ref", f"refs/pull/{number}/head", sha)
