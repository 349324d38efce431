"""A real repository for the actors' unit tests: an origin in tmp_path, registered, mirrored."""

from __future__ import annotations

from pathlib import Path

import pytest

from oore.actors.executor import Dirs
from oore.git import Mirror
from oore.ids import new_id
from oore.model import Provider, Repository, utcnow
from oore.store.base import RepositorySecrets
from oore.store.sqlite import SqliteStore
from tests.actors.fakes import FakePlanner, Held, pipeline_workflows
from tests.e2e.gitrepo import GitRepo


@pytest.fixture
def origin(tmp_path: Path) -> GitRepo:
    """The upstream repository (served as file://), one commit on main."""
    repo = GitRepo(tmp_path / "origin")
    repo.commit("first", {"README.md": "hello\n", "codemagic.yaml": "workflows: {}\n"})
    return repo


@pytest.fixture
def repository_id() -> str:
    return new_id()


@pytest.fixture
async def repository(store: SqliteStore, origin: GitRepo, repository_id: str) -> Repository:
    now = utcnow()
    repo = Repository(
        id=repository_id,
        provider=Provider.GITHUB,
        owner="acme",
        name="app",
        clone_url=origin.url,
        github_repo_id=42,
        created_at=now,
        updated_at=now,
    )
    await store.create_repository(repo, RepositorySecrets(None, None))
    return repo


@pytest.fixture
def mirror(tmp_path: Path, origin: GitRepo, repository_id: str) -> Mirror:
    """The repository's mirror, where a planner would have put it: made before the test runs
    (git's own clone, not `oore.git.fetch`, whose timeout an autojump clock would fire at once)."""
    path = tmp_path / "mirrors" / f"{repository_id}.git"
    origin.git("clone", "--quiet", "--mirror", origin.url, str(path))
    return Mirror(path, origin.url)


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    return Dirs(tmp_path / "ws", tmp_path / "artifacts", tmp_path / "cache", tmp_path / "scratch")


@pytest.fixture
def held(tmp_path: Path) -> Held:
    return Held(tmp_path / "held")


@pytest.fixture
async def planner(
    tmp_path: Path, repository: Repository, mirror: Mirror, held: Held
) -> FakePlanner:
    """A fake planner whose workflows `ci` and `lint` both hold their builds running."""
    workflows = pipeline_workflows(held.pipeline("ci", "lint"))
    return FakePlanner(tmp_path / "mirrors", repository, mirror, workflows)
