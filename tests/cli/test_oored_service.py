"""`oored install|uninstall|start|stop|restart|status|logs --dry-run` for launchd and systemd,
driven through the real executable: the exact commands, files and directories of each plan."""

from __future__ import annotations

import os
import plistlib
import pwd
import re
import shutil
from pathlib import Path

import pytest

from oore.service.builduser import deny_scheduling_steps
from tests.service.oored import (
    OORED,
    DryRun,
    environment,
    oored,
    oored_many,
    parse_dry_run,
)

SECRET_LOOKING = re.compile(r"oore_[A-Za-z0-9_-]{20,}|[0-9a-f]{64}")
LAUNCHD_TARGET = "system/build.oore.oored"
PLIST = "/Library/LaunchDaemons/build.oore.oored.plist"

EXPECTED_COMMANDS = {
    "launchd": {
        ("install",): [
            f"launchctl bootout {LAUNCHD_TARGET}",
            f"launchctl enable {LAUNCHD_TARGET}",
            f"launchctl bootstrap system {PLIST}",
        ],
        ("uninstall",): [f"launchctl bootout {LAUNCHD_TARGET}"],
        ("start",): [f"launchctl kickstart {LAUNCHD_TARGET}"],
        ("stop",): [f"launchctl kill SIGTERM {LAUNCHD_TARGET}"],
        ("restart",): [f"launchctl kickstart -k {LAUNCHD_TARGET}"],
        ("status",): [f"launchctl print {LAUNCHD_TARGET}"],
        ("logs",): ["tail -n 100 /var/log/oore/oored.log"],
        ("logs", "-n", "20", "-f"): ["tail -n 20 -f /var/log/oore/oored.log"],
    },
    "systemd": {
        ("install",): [
            "systemctl daemon-reload",
            "systemctl enable oored",
            "systemctl restart oored",
        ],
        ("uninstall",): ["systemctl disable --now oored", "systemctl daemon-reload"],
        ("start",): ["systemctl start oored"],
        ("stop",): ["systemctl stop oored"],
        ("restart",): ["systemctl restart oored"],
        ("status",): ["systemctl status --no-pager oored"],
        ("logs",): ["journalctl -u oored -n 100 --no-pager"],
        ("logs", "-n", "20", "-f"): ["journalctl -u oored -n 20 -f"],
    },
}
CASES = [
    (platform, args, commands)
    for platform, table in EXPECTED_COMMANDS.items()
    for args, commands in table.items()
]


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, tuple[str, ...]], str]:
    """Every case's output, from invocations run side by side (each start costs ~0.3 s)."""
    home = tmp_path_factory.mktemp("home")
    outputs = {}
    for platform, table in EXPECTED_COMMANDS.items():
        env = _env(home, platform, home / "absent" / "oore.env")
        results = oored_many([[*args, "--dry-run"] for args in table], env=env)
        for args, result in zip(table, results, strict=True):
            assert result.returncode == 0, result.stderr
            assert "dry run: nothing was written or run" in result.stderr
            outputs[(platform, args)] = result.stdout
    return outputs


@pytest.mark.parametrize(("platform", "args", "commands"), CASES)
def test_dry_run_prints_the_exact_commands(
    dry_runs: dict[tuple[str, tuple[str, ...]], str],
    platform: str,
    args: tuple[str, ...],
    commands: list[str],
) -> None:
    found = parse_dry_run(dry_runs[(platform, args)]).commands
    assert [c for c in found if not c.startswith(USER_COMMANDS)] == commands


USER_COMMANDS = ("useradd ", "dscl ")
USERADD = (
    "useradd --system --user-group --no-create-home --home-dir /var/lib/oore/build-home "
    "--shell /usr/sbin/nologin --comment 'Oore builds' oore-build"
)


def _build_user_exists() -> bool:
    try:
        pwd.getpwnam("oore-build")
    except KeyError:
        return False
    return True


@pytest.mark.skipif(_build_user_exists(), reason="this machine has oore-build already")
def test_install_creates_the_build_user(dry_runs: dict[tuple[str, tuple[str, ...]], str]) -> None:
    systemd = parse_dry_run(dry_runs[("systemd", ("install",))]).commands
    assert systemd[0] == USERADD
    launchd = parse_dry_run(dry_runs[("launchd", ("install",))]).commands
    dscl = [c for c in launchd if c.startswith("dscl ")]
    ids = {int(m[1]) for c in dscl if (m := re.search(r"(?:UniqueID|PrimaryGroupID) (\d+)$", c))}
    assert len(ids) == 1, dscl
    assert 450 <= ids.pop() < 500
    assert "dscl . -create /Users/oore-build UserShell /usr/bin/false" in dscl
    assert "dscl . -create /Users/oore-build NFSHomeDirectory /var/lib/oore/build-home" in dscl
    assert launchd.index(dscl[-1]) < launchd.index(EXPECTED_COMMANDS["launchd"][("install",)][0])


BUILD_USER_STEPS = (
    "would run: useradd",
    "would run: dscl",
    "would write /etc/cron.deny",
    "would write /etc/at.deny",
    "would write /usr/lib/cron/",
)


def _service_steps(steps: list[str]) -> list[str]:
    """The plan without the build user's creation and its cron/at denial (machine-dependent)."""
    return [step for step in steps if not step.startswith(BUILD_USER_STEPS)]


def _env_file(plan: DryRun) -> str:
    return next(path for path in plan.files if path.endswith("oore.env"))


def test_install_denies_the_build_user_cron_and_at(
    dry_runs: dict[tuple[str, tuple[str, ...]], str],
) -> None:
    plans = {p: parse_dry_run(dry_runs[(p, ("install",))]) for p in ("systemd", "launchd")}
    deny = {
        "systemd": ("/etc/cron.deny", "/etc/at.deny"),
        "launchd": ("/usr/lib/cron/cron.deny", "/usr/lib/cron/at.deny"),
    }
    for platform, plan in plans.items():
        for path in deny[platform]:
            if Path(path).exists() and "oore-build" in Path(path).read_text().split():
                assert path not in plan.files
            else:
                assert plan.files[path].splitlines()[-1] == "oore-build"


def test_deny_files_keep_their_names(tmp_path: Path) -> None:
    cron, at = tmp_path / "cron.deny", tmp_path / "at.deny"
    cron.write_text("daemon\nnobody")  # no final newline
    at.write_text("oore-build\n")
    steps = deny_scheduling_steps("oore-build", macos=False, files=(cron, at))
    assert [(step.path, step.content) for step in steps] == [  # type: ignore[union-attr]
        (cron, "daemon\nnobody\noore-build\n")
    ]


def test_launchd_install_plan_in_order(dry_runs: dict[tuple[str, tuple[str, ...]], str]) -> None:
    plan = parse_dry_run(dry_runs[("launchd", ("install",))])
    env_file = _env_file(plan)
    assert _service_steps(plan.steps) == [
        f"would write {env_file} (mode 0600):",
        f"would write {Path(env_file).parent / 'build.env'} (mode 0644):",
        "would create /var/lib/oore (mode 0750)",
        "would create /var/lib/oore/home (mode 0750)",
        "would create /var/log/oore (mode 0750)",
        f"would write {PLIST} (mode 0644):",
        "would write /etc/newsyslog.d/oore.conf (mode 0644):",
        *(f"would run: {line}" for line in EXPECTED_COMMANDS["launchd"][("install",)]),
    ]
    plist = plistlib.loads(plan.files[PLIST].encode())
    assert plist["ProgramArguments"] == [str(OORED), "run", "--log-file", "/var/log/oore/oored.log"]
    assert plist["EnvironmentVariables"]["OORE_ENV_FILE"] == env_file
    assert plan.files["/etc/newsyslog.d/oore.conf"].splitlines()[-1].split() == [
        "/var/log/oore/oored.log",
        "root:wheel",
        "640",
        "7",
        "10240",
        "*",
        "JN",
    ]


def test_systemd_install_plan_in_order(dry_runs: dict[tuple[str, tuple[str, ...]], str]) -> None:
    plan = parse_dry_run(dry_runs[("systemd", ("install",))])
    env_file = _env_file(plan)
    assert _service_steps(plan.steps) == [
        f"would write {env_file} (mode 0600):",
        f"would write {Path(env_file).parent / 'build.env'} (mode 0644):",
        "would create /var/lib/oore (mode 0750)",
        "would create /var/lib/oore/home (mode 0750)",
        "would create /var/log/oore (mode 0750)",
        "would write /etc/systemd/system/oored.service (mode 0644):",
        *(f"would run: {line}" for line in EXPECTED_COMMANDS["systemd"][("install",)]),
    ]
    unit = plan.files["/etc/systemd/system/oored.service"]
    assert f"ExecStart={OORED} run\n" in unit
    assert f"EnvironmentFile={env_file}\n" in unit


def test_dry_run_redacts_the_new_env_file(dry_runs: dict[tuple[str, tuple[str, ...]], str]) -> None:
    plan = parse_dry_run(dry_runs[("systemd", ("install",))])
    content = plan.files[_env_file(plan)]
    assert "OORE_ADMIN_TOKEN=<redacted>\n" in content
    assert "OORE_ENCRYPTION_KEY=<redacted>\n" in content
    for output in dry_runs.values():
        assert not SECRET_LOOKING.search(output)


@pytest.mark.parametrize("platform", ["launchd", "systemd"])
def test_install_uses_the_existing_env_file(tmp_path: Path, platform: str) -> None:
    env_file = tmp_path / "oore.env"
    env_file.write_text(
        "OORE_DATA_DIR=/srv/oore\nOORE_SHUTDOWN_GRACE=100\n"
        f"OORE_ADMIN_TOKEN={'t' * 20}\nOORE_ENCRYPTION_KEY={'ab' * 32}\n"
    )
    env_file.chmod(0o600)
    result = oored("install", "--dry-run", env=_env(tmp_path, platform, env_file))
    assert result.returncode == 0, result.stderr
    plan = parse_dry_run(result.stdout)
    # Every line is kept; only the build user is added (and nothing when it is there already).
    written = plan.files[str(env_file)]
    assert written.startswith("OORE_DATA_DIR=/srv/oore\nOORE_SHUTDOWN_GRACE=100\n")
    assert written.endswith("OORE_BUILD_USER=oore-build\n")
    steps = _service_steps(plan.steps)
    assert steps[0] == f"would write {env_file} (mode 0600):"
    assert steps[1:4] == [
        "would create /srv/oore (mode 0750)",
        "would create /srv/oore/home (mode 0750)",
        "would create /var/log/oore (mode 0750)",
    ]
    service_file = plan.files[
        PLIST if platform == "launchd" else "/etc/systemd/system/oored.service"
    ]
    # Stop timeout = the shutdown grace plus the margin for cancelling builds.
    assert ("<integer>130</integer>" if platform == "launchd" else "TimeoutStopSec=130") in (
        service_file
    )


@pytest.mark.parametrize(
    ("platform", "service_lines"),
    [
        (
            "launchd",
            [
                f"launchctl bootout {LAUNCHD_TARGET}",
                f"remove {PLIST}",
                "remove /etc/newsyslog.d/oore.conf",
            ],
        ),
        (
            "systemd",
            [
                "systemctl disable --now oored",
                "remove /etc/systemd/system/oored.service",
                "systemctl daemon-reload",
            ],
        ),
    ],
)
def test_uninstall_purge_lists_what_it_deletes(
    tmp_path: Path, platform: str, service_lines: list[str]
) -> None:
    env_file = tmp_path / "etc" / "oore.env"
    env_file.parent.mkdir()
    env_file.write_text(f"OORE_DATA_DIR={tmp_path / 'data'}\n")
    result = oored("uninstall", "--purge", "--dry-run", env=_env(tmp_path, platform, env_file))
    assert result.returncode == 0, result.stderr
    expected = [
        *(
            f"would {line}" if line.startswith("remove") else f"would run: {line}"
            for line in service_lines
        ),
        f"would remove {tmp_path / 'data'}",
        "would remove /var/log/oore",
        f"would remove {env_file}",
    ]
    assert parse_dry_run(result.stdout).steps == expected
    assert env_file.exists(), "a dry run removes nothing"


def test_uninstall_without_purge_keeps_data(tmp_path: Path) -> None:
    result = oored("uninstall", "--dry-run", env=_env(tmp_path, "systemd", tmp_path / "absent.env"))
    assert result.returncode == 0, result.stderr
    assert not any("/var/lib/oore" in line for line in parse_dry_run(result.stdout).steps)


def test_purge_refuses_a_data_dir_at_the_top_of_the_tree(tmp_path: Path) -> None:
    env_file = tmp_path / "oore.env"
    env_file.write_text("OORE_DATA_DIR=/srv\n")
    result = oored("uninstall", "--purge", "--dry-run", env=_env(tmp_path, "systemd", env_file))
    assert result.returncode == 1
    assert "refusing to purge /srv" in result.stderr


def test_unknown_platform_override_is_refused(tmp_path: Path) -> None:
    env = _env(tmp_path, "upstart", tmp_path / "absent.env")
    result = oored("start", "--dry-run", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == "oored: OORE_SERVICE_PLATFORM: expected launchd or systemd"


def test_changing_commands_need_root(tmp_path: Path) -> None:
    commands = ["install", "uninstall", "start", "stop", "restart"]
    env = _env(tmp_path, "systemd", tmp_path / "absent.env")
    results = oored_many([[command] for command in commands], env=env, prefix=_unprivileged())
    if all("unshare:" in result.stderr for result in results):
        pytest.skip(f"running as root and `unshare --user` fails here: {results[0].stderr}")
    for command, result in zip(commands, results, strict=True):
        assert result.returncode == 77, result.stderr
        assert result.stderr == (
            f"oored: `oored {command}` changes system services and needs root: run it with sudo "
            "(add --dry-run to see what it would do)\n"
        )
        assert result.stdout == ""


def _unprivileged() -> list[str]:
    """A command prefix that runs oored without root: none when the tests run unprivileged,
    else a new user namespace, where oored's effective uid is 65534 (`nobody`) while files stay
    reachable."""
    if os.geteuid() != 0:
        return []
    if shutil.which("unshare") is None:
        pytest.skip("running as root and unshare(1) is missing: cannot drop root")
    return ["unshare", "--user"]


def _env(home: Path, platform: str, env_file: Path) -> dict[str, str]:
    return environment(home, OORE_SERVICE_PLATFORM=platform, OORE_ENV_FILE=str(env_file))


def test_install_keeps_the_build_user_of_an_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "oore.env"
    env_file.write_text(
        f"OORE_ADMIN_TOKEN={'t' * 20}\nOORE_ENCRYPTION_KEY={'ab' * 32}\nOORE_BUILD_USER=nobody\n"
    )
    env_file.chmod(0o600)
    result = oored("install", "--dry-run", env=_env(tmp_path, "systemd", env_file))
    assert result.returncode == 0, result.stderr
    plan = parse_dry_run(result.stdout)
    assert str(env_file) not in plan.files, "a complete env file is left alone"
    assert not any(c.startswith("useradd") for c in plan.commands), "nobody exists"
