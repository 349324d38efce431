"""Real upstream repositories in tmp_path, reached through file:// URLs like a provider's remote.

The standard history (names used by the tests):

    main:  A ── B            A: README.md, codemagic.yaml, src/app.txt (v1), big.bin (1 MiB + 1)
            \\               B: src/app.txt (v2), oore.yaml, docs/guide.md
             F               F: src/feature.txt; branch `feature` and the PR ref refs/pull/1/head
    tags:  v1.0 → A (lightweight), v2.0 → B (annotated)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio

from oore.git import Mirror, ensure_mirror

BIG = b"\0" * ((1 << 20) + 1)


def author_env() -> dict[str, str]:
    """git for the test's own repositories: no user or system config, fixed identity and dates."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Tester",
        "GIT_AUTHOR_EMAIL": "tester@example.com",
        "GIT_COMMITTER_NAME": "Tester",
        "GIT_COMMITTER_EMAIL": "tester@example.com",
        "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
    }


async def git(repo: Path, *args: str) -> str:
    result = await trio.run_process(
        ["git", "-C", str(repo), *args], capture_stdout=True, capture_stderr=True, env=author_env()
    )
    return result.stdout.decode().strip()


async def git_succeeds(repo: Path, *args: str) -> bool:
    command = ["git", "-C", str(repo), *args]
    result = await trio.run_process(command, capture_stderr=True, check=False, env=author_env())
    return result.returncode == 0


@dataclass
class Upstream:
    path: Path
    commits: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.path.as_uri()

    async def git(self, *args: str) -> str:
        return await git(self.path, *args)

    async def commit(self, name: str, files: dict[str, bytes | None]) -> str:
        """Commit `files` (None deletes) on the current branch; remember the sha as `name`."""
        for path, content in files.items():
            target = self.path / path
            if content is None:
                await self.git("rm", "-q", "--", path)
                continue
            await trio.Path(target.parent).mkdir(parents=True, exist_ok=True)
            await trio.Path(target).write_bytes(content)
            await self.git("add", "--", path)
        await self.git("commit", "-q", "-m", name)
        self.commits[name] = await self.git("rev-parse", "HEAD")
        return self.commits[name]


def build_standard_history(path: Path) -> dict[str, str]:
    """The history in this module's docstring, made once per session (plain subprocess: no loop)."""

    def run(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(path), *args], capture_output=True, check=True, env=author_env()
        )
        return done.stdout.decode().strip()

    def commit(name: str, files: dict[str, bytes]) -> str:
        for name_, content in files.items():
            (path / name_).parent.mkdir(parents=True, exist_ok=True)
            (path / name_).write_bytes(content)
        run("add", "--", *files)
        run("commit", "-q", "-m", name)
        return run("rev-parse", "HEAD")

    path.mkdir(parents=True)
    run("init", "-q", "-b", "main")
    readme = {"README.md": b"hello\n", "codemagic.yaml": b"workflows: {}\n"}
    a = commit("A", {**readme, "src/app.txt": b"v1\n", "big.bin": BIG})
    run("tag", "v1.0")
    b = commit("B", {"src/app.txt": b"v2\n", "oore.yaml": b"oore\n", "docs/guide.md": b"g\n"})
    run("tag", "-a", "-m", "release 2", "v2.0")
    run("checkout", "-q", "-b", "feature", a)
    f = commit("F", {"src/feature.txt": b"feature\n"})
    run("update-ref", "refs/pull/1/head", f)
    run("checkout", "-q", "main")
    return {"A": a, "B": b, "F": f}


@pytest.fixture(scope="session")
def standard_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("template") / "upstream"
    return path, build_standard_history(path)


@pytest.fixture
async def upstream(tmp_path: Path, standard_history: tuple[Path, dict[str, str]]) -> Upstream:
    """A private copy of the standard history (tests may move its branches)."""
    template, commits = standard_history
    path = tmp_path / "upstream"
    await trio.to_thread.run_sync(lambda: shutil.copytree(template, path, symlinks=True))
    return Upstream(path, dict(commits))


@pytest.fixture
async def mirror(tmp_path: Path, upstream: Upstream) -> Mirror:
    return await ensure_mirror(tmp_path / "mirrors", "repo1", upstream.url)
