"""Every command group through the real `oore`, against a real daemon: the human output says
what happened, and `--json` prints exactly the object the API answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from oore.cli.client.errors import ExitCode
from tests.cli.conftest import GITHUB_REPO_ID, WEBHOOK_SECRET, Registered
from tests.cli.harness import Oore, one_line_error, together
from tests.e2e.gitrepo import GitRepo
from tests.e2e.webhook_client import Provider, accepted_id

GOOD_PIPELINE = "workflows:\n  build:\n    scripts:\n      - echo hi\n"
BAD_PIPELINE = "workflows:\n  a:\n    scripts:\n      - *nowhere\n"


async def api_json(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_health_and_version(oore: Oore, api: httpx.AsyncClient) -> None:
    human, as_json, version, text = await together(
        oore("health"), oore("--json", "health"), oore("--json", "version"), oore("version")
    )
    assert human.code == 0
    assert human.out.startswith("ok ")
    assert as_json.json().keys() == (await api_json(api, "/api/health")).keys()
    assert as_json.json()["status"] == "ok"
    assert version.json() == await api_json(api, "/api/version")
    assert "client:" in text.out
    assert version.json()["python"] in text.out


async def test_repo_commands(oore: Oore, api: httpx.AsyncClient, tmp_path: Path) -> None:
    git = GitRepo(tmp_path / "one")
    git.commit("initial", {"README.md": "one\n"})
    added = await oore(
        *("--json", "repo", "add", "cmd/one", "--clone-url", git.url),
        *("--webhook-secret", "a-secret-of-mine"),
    )
    assert added.code == 0, added.err
    created = added.json()
    assert created["webhook_secret"] == "a-secret-of-mine"  # shown once, in the answer
    repo_id = created["id"]

    listed, table, shown, human, hook, hook_text = await together(
        oore("--json", "repo", "list"),
        oore("repo", "list"),
        oore("--json", "repo", "show", "cmd/one"),  # by OWNER/NAME
        oore("repo", "show", repo_id),
        oore("--json", "repo", "webhook-url", "cmd/one"),
        oore("repo", "webhook-url", repo_id),
    )
    assert listed.json() == await api_json(api, "/api/repositories")
    row = next(line for line in table.lines() if repo_id in line)
    assert row.split()[1:5] == ["cmd/one", "github", "main", "active"]
    assert shown.json() == await api_json(api, f"/api/repositories/{repo_id}")
    assert f"clone URL:       {git.url}" in human.out
    assert "webhook secret:  set" in human.out
    assert hook.json() == await api_json(api, f"/api/repositories/{repo_id}/webhook-url")
    assert "X-Hub-Signature-256" in hook_text.out

    edited, second, nothing, refused = await together(
        oore("--json", "repo", "edit", "cmd/one", "--default-branch", "dev", "--inactive"),
        oore("repo", "add", "cmd/two", "--clone-url", git.url),
        oore("repo", "edit", "cmd/one"),
        oore("repo", "remove", "cmd/one"),  # no terminal to confirm at
    )
    assert edited.code == 0, edited.err
    now = await api_json(api, f"/api/repositories/{repo_id}")
    assert (now["default_branch"], now["active"]) == ("dev", False)
    assert edited.json() == now
    assert "registered cmd/two (" in second.out
    assert "webhook secret:  whsec_" in second.out
    assert "shown only this once" in second.err
    assert nothing.code == ExitCode.INVALID
    assert refused.code == ExitCode.INVALID
    assert "--yes" in one_line_error(refused)
    removed = await oore("repo", "remove", "cmd/one", "--yes")
    assert removed.code == 0, removed.err
    assert (await api.get(f"/api/repositories/{repo_id}")).status_code == 404
    gone = await oore("repo", "show", "cmd/one")
    assert gone.code == ExitCode.NOT_FOUND
    assert one_line_error(gone) == "oore: not found: no repository named cmd/one"


async def test_build_read_commands(
    oore: Oore, api: httpx.AsyncClient, app_repo: Registered
) -> None:
    done = await oore(
        "--json", "build", "trigger", app_repo.full_name, "-w", "ok", "--wait", "--interval", "0.1"
    )
    assert done.code == 0, done.err
    build = done.json()
    build_id = build["id"]
    assert build["status"] == "succeeded"
    assert build == await api_json(api, f"/api/builds/{build_id}")

    listed, table, shown, human, steps, step_table, log, artifacts = await together(
        oore("--json", "build", "list", "--repo", app_repo.full_name, "--limit", "3"),
        oore("build", "list"),
        oore("--json", "build", "show", build_id),
        oore("build", "show", build_id),
        oore("--json", "build", "steps", build_id),
        oore("build", "steps", build_id),
        oore("build", "logs", build_id),
        oore("--json", "build", "artifacts", build_id),
    )
    assert listed.json() == await api_json(api, "/api/builds", repository=app_repo.id, limit=3)
    row = next(line for line in table.lines() if build_id in line)
    assert app_repo.full_name in row
    assert "succeeded" in row
    assert shown.json() == build
    assert "status:      succeeded" in human.out
    assert "greet" in human.out
    assert steps.json() == await api_json(api, f"/api/builds/{build_id}/steps")
    assert step_table.lines()[1].split()[:4] == ["1", "greet", "succeeded", "0"]
    assert log.out == (await api.get(f"/api/builds/{build_id}/log")).text
    assert "hello from the cli test" in log.out
    assert artifacts.json() == await api_json(api, f"/api/builds/{build_id}/artifacts")


async def test_events_commands(oore: Oore, api: httpx.AsyncClient, app_repo: Registered) -> None:
    sha = app_repo.git.head()
    payload = {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": sha,
        "repository": {
            "id": GITHUB_REPO_ID,
            "name": "app",
            "full_name": app_repo.full_name,
            "owner": {"login": "cli"},
            "clone_url": "https://github.com/cli/app.git",
        },
        "pusher": {"name": "tester"},
        "head_commit": {"id": sha, "message": "initial", "author": {"name": "T"}},
    }
    delivery = await Provider(api).github("push", json.dumps(payload).encode(), WEBHOOK_SECRET)
    event_id = accepted_id(delivery)

    listed, table, shown, human, missing = await together(
        oore("--json", "events", "list", "--repo", app_repo.full_name),
        oore("events", "list"),
        oore("--json", "events", "show", event_id),
        oore("events", "show", event_id, "--payload"),
        oore("events", "show", "01NOSUCHEVENT0000000000000"),
    )
    assert listed.json() == await api_json(api, "/api/webhooks/events", repository=app_repo.id)
    assert event_id in [e["id"] for e in listed.json()["items"]]
    assert event_id in table.out
    assert shown.json() == await api_json(api, f"/api/webhooks/events/{event_id}")
    assert "event:       push" in human.out
    assert f'"after": "{sha}"' in human.out
    assert missing.code == ExitCode.NOT_FOUND

    again = await oore("--json", "events", "reprocess", event_id)
    assert again.code == 0, again.err
    assert again.json()["id"] == event_id
    assert "queued to be processed again" in (await oore("events", "reprocess", event_id)).out


async def test_pipeline_commands(
    oore: Oore, api: httpx.AsyncClient, app_repo: Registered, tmp_path: Path
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD_PIPELINE)
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_PIPELINE)

    valid, report, human, stored = await together(
        oore("pipeline", "validate", str(good)),
        oore("--json", "pipeline", "validate", str(bad)),
        oore("pipeline", "validate", str(bad)),
        oore("--json", "pipeline", "set", app_repo.full_name, str(good)),
    )
    assert valid.code == 0
    assert valid.out.startswith("valid ")
    assert report.code == ExitCode.INVALID
    answer = await api.post(
        "/api/pipelines/validate", json={"content": BAD_PIPELINE, "file": "bad.yaml"}
    )
    assert report.json() == answer.json()
    assert human.code == ExitCode.INVALID
    assert "bad.yaml:4: error: undefined alias" in human.out
    assert stored.json() == {"workflows": ["build"], "warnings": []}

    shown, as_json = await together(
        oore("pipeline", "show", app_repo.full_name),
        oore("--json", "pipeline", "show", app_repo.id),
    )
    assert shown.out == GOOD_PIPELINE
    assert as_json.json() == {"repository_id": app_repo.id, "content": GOOD_PIPELINE}
    assert (await oore("pipeline", "delete", app_repo.full_name)).code == 0
    missing = await oore("pipeline", "show", app_repo.full_name)
    assert missing.code == ExitCode.NOT_FOUND
    assert one_line_error(missing).startswith("oore: not found: repository ")


async def test_secrets_commands_never_print_values(
    oore: Oore, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    env_file = tmp_path / "signing.env"
    env_file.write_text("# keys\nexport KEY_ONE='value-one-xyzzy'\nKEY_TWO=\"value-two-plugh\"\n")
    result = await oore(
        *("secrets", "set", "signing", "--from-env-file", str(env_file)),
        *("INLINE=value-three-frotz", "PROMPTED"),
        stdin="value-four-gnusto\n",
    )
    assert result.code == 0, result.err
    assert "stored 4 variable(s) in signing" in result.out
    listed, table, shown = await together(
        oore("--json", "secrets", "list"),
        oore("secrets", "list"),
        oore("--json", "secrets", "show", "signing"),
    )
    assert listed.json() == await api_json(api, "/api/secret-groups")
    group = next(g for g in listed.json()["items"] if g["name"] == "signing")
    assert group["variables"] == ["INLINE", "KEY_ONE", "KEY_TWO", "PROMPTED"]
    assert "signing  INLINE, KEY_ONE, KEY_TWO, PROMPTED" in table.out
    assert shown.json() == await api_json(api, "/api/secret-groups/signing")
    for output in (result, listed, table, shown):
        for value in ("xyzzy", "plugh", "frotz", "gnusto"):
            assert value not in output.out + output.err

    broken = tmp_path / "broken.env"
    broken.write_text("OK=1\nthis line is secret-ish and wrong\n")
    refused = await oore("secrets", "set", "other", "--from-env-file", str(broken))
    assert refused.code == ExitCode.INVALID
    assert one_line_error(refused).endswith(
        "broken.env:2: expected KEY=value, KEY='value' or KEY=\"value\""
    )
    assert "secret-ish" not in refused.err

    assert (await oore("secrets", "delete", "signing")).code == 0
    assert (await api.get("/api/secret-groups/signing")).status_code == 404


async def test_token_commands(oore: Oore, api: httpx.AsyncClient) -> None:
    created, human = await together(
        oore("--json", "token", "create", "reader", "--scope", "read"),
        oore("token", "create", "printed"),
    )
    assert created.code == 0, created.err
    token = created.json()
    assert token["scope"] == "read"
    secret = token["token"]
    assert human.out.strip().startswith("oore_")  # the secret alone on stdout
    assert "shown only once" in human.err

    listed, table = await together(oore("--json", "token", "list"), oore("token", "list"))
    assert listed.json() == await api_json(api, "/api/tokens")
    assert secret not in listed.out
    row = next(line for line in table.lines() if token["id"] in line)
    assert row.split()[1:4] == ["reader", "read", "active"]

    reader = oore.with_env(OORE_TOKEN=secret)
    read, write, admin_only = await together(
        reader("repo", "list"),
        reader("repo", "add", "x/y", "--clone-url", "https://example.com/x.git"),
        reader("token", "list"),
    )
    assert read.code == 0
    assert write.code == ExitCode.AUTH
    assert one_line_error(write) == (
        "oore: not allowed: this token has read scope; this request needs a write token"
    )
    assert admin_only.code == ExitCode.AUTH
    assert one_line_error(admin_only) == "oore: not allowed: this endpoint needs the admin token"

    revoked = await oore("--json", "token", "revoke", token["id"])
    assert revoked.json()["revoked_at"]
    rejected = await reader("repo", "list")
    assert rejected.code == ExitCode.AUTH
    assert "rejected the token" in one_line_error(rejected)


async def test_colours_follow_the_terminal_and_can_be_turned_off(
    oore: Oore, app_repo: Registered
) -> None:
    forced = oore.with_env(FORCE_COLOR="1")
    coloured, plain, by_env, piped = await together(
        forced("repo", "list"),
        forced("--no-color", "repo", "list"),
        forced("repo", "list", env={"NO_COLOR": "1"}),
        oore("repo", "list"),  # not a terminal: no colour either
    )
    assert "\x1b[32mactive\x1b[0m" in coloured.out
    for result in (plain, by_env, piped):
        assert app_repo.full_name in result.out
        assert "\x1b[" not in result.out


async def test_builds_are_named_by_number(
    oore: Oore, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    """`OWNER/NAME#N` names one build; `N` alone only when one repository has that number."""
    names = ("numbers/one", "numbers/two")
    for name in names:
        git = GitRepo(tmp_path / name)
        git.commit("initial", {"codemagic.yaml": GOOD_PIPELINE, "README.md": f"{name}\n"})
        added = await oore("repo", "add", name, "--clone-url", git.url)
        assert added.code == 0, added.err
    built = {}
    for name in names:
        done = await oore("--json", "build", "trigger", name, "-w", "build", "--wait")
        assert done.code == 0, done.err
        built[name] = done.json()
    numbers = {b["number"] for b in built.values()}
    assert numbers == {1}  # numbered per repository
    one, two, both, bad, missing = await together(
        oore("--json", "build", "show", "numbers/one#1"),
        oore("--json", "build", "steps", "numbers/two#1"),
        oore("build", "show", "1"),
        oore("build", "show", "numbers/one#first"),
        oore("build", "logs", "numbers/one#7"),
    )
    assert one.json()["id"] == built["numbers/one"]["id"]
    assert two.json() == await api_json(api, f"/api/builds/{built['numbers/two']['id']}/steps")
    assert both.code == ExitCode.INVALID
    assert "numbers/one#1" in both.err
    assert "numbers/two#1" in both.err
    assert bad.code == ExitCode.INVALID
    assert "acme/app#19" in bad.err  # says how to name a build
    assert missing.code == ExitCode.NOT_FOUND
    assert "no build #7 in numbers/one" in missing.err

    unconfirmed = await oore("build", "delete", "numbers/one#1")
    assert unconfirmed.code == ExitCode.INVALID  # not at a terminal: --yes is required
    deleted = await oore("build", "delete", "numbers/one#1", "--yes")
    assert deleted.code == 0, deleted.err
    assert "deleted build #1" in deleted.out
    gone = await api.get(f"/api/builds/{built['numbers/one']['id']}")
    assert gone.status_code == 404
    still = await oore("--json", "build", "show", "numbers/two#1")  # the other one is kept
    assert still.json()["id"] == built["numbers/two"]["id"]
