"""`oored`: run the daemon in the foreground, manage its database and env file, and install it
as a launchd or systemd service. The service commands are thin: the work and its plans live in
`oore.service`.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import asyncclick as click

from oore import __version__, logsetup
from oore.config import Settings, load_settings, parse_env_file, which_env_file
from oore.errors import ConfigError, OoreError, Unavailable
from oore.secretfiles import ensure_secrets
from oore.service.builduser import BUILD_USER, build_user_steps, deny_scheduling_steps
from oore.service.envfile import EnvPlan, describe, plan_env_file
from oore.service.layout import Layout, oored_executable, service_layout
from oore.service.manager import Manager, detect, install_plan, uninstall_plan
from oore.service.runner import DryRunner, NeedsRoot, SystemRunner, carry_out
from oore.service.steps import Step
from oore.service.toolchains import ToolchainPlan, plan_toolchains, this_machine

EXIT_FAILURE = 1
EXIT_SOFTWARE = 70  # sysexits EX_SOFTWARE: an actor kept crashing; let launchd/systemd restart us
EXIT_NOPERM = 77  # sysexits EX_NOPERM: run it with sudo
EXIT_CONFIG = 78  # sysexits EX_CONFIG: fix the configuration, restarting will not help

DRY_RUN = click.option(
    "--dry-run", is_flag=True, help="Print every file it would write and command it would run."
)
ENV_FILE = click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The env file (default: OORE_ENV_FILE, else /etc/oore/oore.env).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="oored")
def cli() -> None:
    """The Oore build-server daemon.

    \b
    Start it in the foreground on the embedded default (SQLite in a per-user data dir,
    127.0.0.1:8080, an admin token generated on first start):
        oored run
    Configuration comes from /etc/oore/oore.env (or OORE_ENV_FILE) and OORE_* variables.
    On a build machine, `sudo oored install` makes it a launchd or systemd service.

    \b
    Example:
        oored run
        oored install --dry-run
    """


@cli.command()
@click.option("--bind", metavar="HOST:PORT", help="Listen address; overrides OORE_BIND.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Overrides OORE_DATA_DIR.")
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), help="Overrides OORE_LOG_FORMAT."
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Overrides OORE_LOG_LEVEL.",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the log (and any crash output) to this file, reopening it after rotation.",
)
@click.option(
    "--ready-file",
    type=click.Path(path_type=Path),
    help='Write {"url", "pid"} as JSON to this file once the daemon is serving.',
)
async def run(
    bind: str | None,
    data_dir: Path | None,
    log_format: str | None,
    log_level: str | None,
    log_file: Path | None,
    ready_file: Path | None,
) -> None:
    """Run the daemon in the foreground until SIGTERM or Ctrl-C.

    \b
    Example:
        oored run --bind 127.0.0.1:9000 --log-format json
    """
    # Imported here: the web stack is the slow part of start-up, and only `run` needs it.
    from oore import daemon, tuning
    from oore.actors.runtime import SupervisorEscalation
    from oore.datalock import lock_data_dir
    from oore.service.logfile import log_to_file

    overrides = {
        "OORE_BIND": bind,
        "OORE_DATA_DIR": str(data_dir) if data_dir else None,
        "OORE_LOG_FORMAT": log_format,
        "OORE_LOG_LEVEL": log_level,
    }
    # Everything the daemon creates (database, logs, artifacts, mirrors) is its own; what builds
    # need is opened up explicitly (oore/execution/isolation.py).
    os.umask(0o077)
    settings = _load_or_exit(overrides)
    logsetup.configure(settings.log_level, settings.log_format)
    if log_file is not None:
        try:
            log_to_file(log_file)
        except OSError as exc:
            _fail(f"cannot open the log file {log_file}: {exc.strerror}", EXIT_CONFIG)

    tuning.tune_interpreter()

    def on_ready(url: str) -> None:
        tuning.settle_garbage_collector()  # what is alive now lives as long as the process
        if ready_file is not None:
            ready_file.write_text(json.dumps({"url": url, "pid": os.getpid()}))

    try:
        # First of all: a second daemon on this data dir must stop before it touches anything
        # (secrets, database, the first one's running builds).
        with lock_data_dir(settings.data_dir):
            settings = _with_secrets_or_exit(settings)
            if settings.admin_token_file is not None:
                click.echo(f"oored: admin token is in {settings.admin_token_file}", err=True)
            await daemon.run(settings, on_ready=on_ready)
    except ConfigError as exc:
        _fail(exc.message, EXIT_CONFIG)
    except SupervisorEscalation as exc:
        _fail(f"giving up: {exc}", EXIT_SOFTWARE)
    except Unavailable as exc:  # the port, the database: it may work on the next start
        _fail(exc.message, EXIT_FAILURE)
    except OoreError as exc:
        _fail(exc.message, EXIT_SOFTWARE)
    except OSError as exc:  # a start-up failure is one line, not a traceback
        _fail(_os_error(exc), EXIT_FAILURE)


@cli.command()
async def migrate() -> None:
    """Apply pending database migrations, then exit.

    \b
    Example:
        OORE_DATA_DIR=/var/lib/oore oored migrate
    """
    from oore.datalock import lock_data_dir
    from oore.store.sqlite import migrate as migrate_store

    settings = _settings_or_exit({})
    try:
        # Not under a running daemon: its statements assume the schema it started with.
        with lock_data_dir(settings.data_dir):
            applied = migrate_store(settings.database_path)
    except ConfigError as exc:
        _fail(exc.message, EXIT_CONFIG)
    if applied:
        click.echo(f"applied migrations {', '.join(map(str, applied))} to {settings.database_path}")
    else:
        click.echo(f"{settings.database_path} is up to date")


@cli.command()
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write (default: OORE_ENV_FILE; else /etc/oore/oore.env as root, "
    "or oore.env in your per-user data dir).",
)
@click.option("--force", is_flag=True, help="Replace the file, with a new token and key.")
@DRY_RUN
def init(env_file: Path | None, force: bool, dry_run: bool) -> None:
    """Write the env file (mode 0600) with a generated admin token and encryption key.

    Values already in the file are kept; only missing secrets are added. A token or key that
    `oored run` generated into the data dir earlier is kept too, so the database's sealed
    secrets stay readable. OORE_BIND and OORE_DATA_DIR, when set, go into a new file. No
    secret is printed: the command says where the token is. Writing /etc/oore/oore.env needs
    root (sudo).

    It also looks for the toolchains builds need (Xcode, Flutter, the Android SDK, Java,
    CocoaPods, Ruby) and writes OORE_BUILD_PATH and OORE_BUILD_ENV_FILE (build.env beside the
    env file: ANDROID_HOME, JAVA_HOME, FLUTTER_ROOT...) from what it finds; an existing
    build.env is kept.

    \b
    Example:
        oored init --dry-run
        oored init --env-file ./oore.env
    """
    with _reported():
        root = os.geteuid() == 0
        path = which_env_file(os.environ, is_root=root, given=env_file, writing=True).path
        tools = _toolchains(path, force=force)
        plan = plan_env_file(
            path, force=force, is_root=root, environ=os.environ, settings=tools.settings
        )
        _carry_out([*plan.steps, *tools.steps], dry_run)
        for line in tools.describe():
            click.echo(line)
        _report_init(plan, root=root, force=force, dry_run=dry_run)


def _toolchains(env_file: Path, *, force: bool) -> ToolchainPlan:
    existing = parse_env_file(env_file) if env_file.exists() and not force else {}
    return plan_toolchains(env_file, existing, this_machine(), force=force)


def _report_init(plan: EnvPlan, *, root: bool, force: bool, dry_run: bool) -> None:
    for line in describe(plan, dry_run=dry_run):
        click.echo(line)
    if force:
        replaced = "would replace" if dry_run else "replaced"
        click.echo(
            f"--force {replaced} the encryption key: data sealed in an existing database with "
            "the old key no longer opens (oored refuses to start on it)",
            err=True,
        )
    if dry_run:
        return
    if "OORE_ADMIN_TOKEN" in plan.generated:
        _explain_token(plan.path, root)
    if not root and plan.path != which_env_file(os.environ, is_root=root).path:
        click.echo(
            f"oored reads it when OORE_ENV_FILE is set: export OORE_ENV_FILE={_q(plan.path)}"
        )


@cli.command()
@ENV_FILE
@DRY_RUN
def install(env_file: Path | None, dry_run: bool) -> None:
    """Install and start oored as a system service (launchd on macOS, systemd on Linux).

    \b
    Creates the build user builds run as (OORE_BUILD_USER, default oore-build: `useradd
    --system` on Linux, `dscl` on macOS) unless it exists, and names it in cron's and at's
    deny files; writes the env file first when it
    is missing (as `oored init`; OORE_BUILD_USER is added to an existing one), creates the
    data dir (/var/lib/oore) and log dir (/var/log/oore), writes the service file for the
    running oored executable (by its absolute path), and starts the service. Running it
    again updates the service. Needs root (sudo).

    \b
    Example:
        oored install --dry-run
        oored install --env-file /etc/oore/oore.env
    """
    with _reported():
        _require_root("install", dry_run)
        manager = detect(os.environ)
        path = _service_env_file(env_file)
        # A new env file gets the toolchains found (as `oored init` writes them); an existing
        # one is left as it is (`oored init` adds them), the unit's PATH following what is found.
        tools = _toolchains(path, force=False)
        new = not path.exists()
        env = plan_env_file(
            path,
            force=False,
            is_root=True,
            environ=os.environ,
            settings={"OORE_BUILD_USER": BUILD_USER, **(tools.settings if new else {})},
        )
        found_path = tools.settings.get("OORE_BUILD_PATH")
        layout = service_layout(path, env.values, oored_executable(), build_path=found_path)
        macos = manager.name == "launchd"
        name = env.values["OORE_BUILD_USER"]
        user_steps = [
            *build_user_steps(name, layout.build_home, macos=macos),
            *deny_scheduling_steps(name, macos=macos),
        ]
        for warning in manager.warnings(layout):
            click.echo(f"warning: {warning}", err=True)
        steps = install_plan(manager, layout, [*env.steps, *(tools.steps if new else [])])
        _carry_out([*user_steps, *steps], dry_run)
        for line in [*tools.describe(), *describe(env, dry_run=dry_run)]:
            click.echo(line)
        if not dry_run:
            click.echo(f"oored is installed as a {manager.name} service and started.")
            click.echo("Check it with `oored status` and `oored logs -f`.")
            _explain_token(path, root=True)


@cli.command()
@ENV_FILE
@click.option(
    "--purge", is_flag=True, help="Also delete the data dir, log dir and env file (all builds)."
)
@DRY_RUN
def uninstall(env_file: Path | None, purge: bool, dry_run: bool) -> None:
    """Stop oored and remove its service files; --purge also deletes its data.

    \b
    Without --purge the database, env file and logs stay, so `oored install` brings
    everything back. With --purge they are deleted for good: back up first.
    Needs root (sudo).

    \b
    Example:
        oored uninstall --purge --dry-run
        oored uninstall
    """
    with _reported():
        _require_root("uninstall", dry_run)
        manager = detect(os.environ)
        layout = _installed_layout(_service_env_file(env_file), purge=purge)
        _carry_out(uninstall_plan(manager, layout, purge=purge), dry_run)


@cli.command()
@DRY_RUN
def start(dry_run: bool) -> None:
    """Start the installed service. Needs root (sudo).

    \b
    Example:
        oored start
    """
    _manage("start", lambda manager: manager.start(), dry_run)


@cli.command()
@DRY_RUN
def stop(dry_run: bool) -> None:
    """Stop the service; running builds get OORE_SHUTDOWN_GRACE seconds to finish.

    It stays installed and starts again at boot; `oored uninstall` removes it. Needs root
    (sudo).

    \b
    Example:
        oored stop --dry-run
    """
    _manage("stop", lambda manager: manager.stop(), dry_run)


@cli.command()
@DRY_RUN
def restart(dry_run: bool) -> None:
    """Restart the service (after an upgrade or an env file change). Needs root (sudo).

    \b
    Example:
        oored restart
    """
    _manage("restart", lambda manager: manager.restart(), dry_run)


@cli.command()
@DRY_RUN
def status(dry_run: bool) -> None:
    """Show the service manager's view of oored (launchctl print, or systemctl status).

    \b
    Example:
        oored status
    """
    _manage("status", lambda manager: manager.status(), dry_run, needs_root=False)


@cli.command()
@click.option(
    "-n",
    "--lines",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="How many lines to show.",
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@DRY_RUN
def logs(lines: int, follow: bool, dry_run: bool) -> None:
    """Show the service's log: /var/log/oore/oored.log on macOS, the journal on Linux.

    \b
    Example:
        oored logs -n 200 -f
    """
    _manage("logs", lambda manager: manager.logs(lines, follow), dry_run, needs_root=False)


@cli.command()
async def doctor() -> None:
    """Check that this machine can run oored with its configuration.

    \b
    Checks: git present, data dir writable, free disk space, the encryption key opens the
    secrets sealed in the database (read-only), the listen port is free or served by oored,
    on macOS that xcodebuild, flutter and pod are found, and what builds get: their PATH and
    build env file, Java and the Android SDK (a warning with what to do when missing) and the
    other toolchains found. Exits 1 if a check fails.

    \b
    Example:
        oored doctor
    """
    from oore.service.doctor import Status, run_checks

    try:
        settings = load_settings(os.environ)
    except ConfigError as exc:
        click.echo(f"✗ configuration: {exc.message}")
        sys.exit(EXIT_FAILURE)
    click.echo(f"✓ configuration: {settings.env_file or 'defaults and OORE_* variables'}")
    checks = await run_checks(settings)
    for check in checks:
        click.echo(check.line())
    if any(check.status is Status.FAIL for check in checks):
        sys.exit(EXIT_FAILURE)


def _manage(
    command: str,
    plan: Callable[[Manager], list[Step]],
    dry_run: bool,
    *,
    needs_root: bool = True,
) -> None:
    with _reported():
        if needs_root:
            _require_root(command, dry_run)
        _carry_out(plan(detect(os.environ)), dry_run)


def _installed_layout(env_file: Path, *, purge: bool) -> Layout:
    """The layout to remove; without --purge only the service files matter, so an unreadable
    env file is no reason to stop."""
    try:
        values = parse_env_file(env_file) if env_file.exists() else {}
    except ConfigError:
        if purge:
            raise
        values = {}
    return service_layout(env_file, values, Path(sys.argv[0]).absolute())


def _carry_out(steps: list[Step], dry_run: bool) -> None:
    if dry_run:
        carry_out(DryRunner(click.echo), steps)
        click.echo("(dry run: nothing was written or run)", err=True)
    else:
        carry_out(SystemRunner(click.echo), steps)


def _require_root(command: str, dry_run: bool) -> None:
    if not dry_run and os.geteuid() != 0:
        raise NeedsRoot(
            f"`oored {command}` changes system services and needs root: run it with sudo "
            "(add --dry-run to see what it would do)"
        )


def _explain_token(path: Path, root: bool) -> None:
    sudo = "sudo " if root else ""
    click.echo(f"The admin token is in {path} (not shown here); read it with:")
    click.echo(f"    {sudo}grep OORE_ADMIN_TOKEN {_q(path)}")
    click.echo("Back up that file with the database: stored secrets open only with its key.")


def _service_env_file(given: Path | None) -> Path:
    """The env file of the system service (`install` and `uninstall` run as root)."""
    return which_env_file(os.environ, is_root=True, given=given, writing=True).path


def _q(path: Path) -> str:
    return shlex.quote(str(path))


@contextmanager
def _reported() -> Iterator[None]:
    """One line on stderr and a distinct exit status for each kind of failure; no traceback."""
    try:
        yield
    except NeedsRoot as exc:
        _fail(exc.message, EXIT_NOPERM)
    except ConfigError as exc:
        _fail(exc.message, EXIT_CONFIG)
    except OoreError as exc:
        _fail(exc.message, EXIT_FAILURE)
    except OSError as exc:
        _fail(_os_error(exc), EXIT_FAILURE)


def _os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def _settings_or_exit(overrides: Mapping[str, str | None]) -> Settings:
    return _with_secrets_or_exit(_load_or_exit(overrides))


def _load_or_exit(overrides: Mapping[str, str | None]) -> Settings:
    environ = dict(os.environ)
    environ.update({k: v for k, v in overrides.items() if v})
    try:
        return load_settings(environ)
    except ConfigError as exc:
        _fail(exc.message, EXIT_CONFIG)


def _with_secrets_or_exit(settings: Settings) -> Settings:
    try:
        return ensure_secrets(settings)
    except ConfigError as exc:
        _fail(exc.message, EXIT_CONFIG)
    except OSError as exc:
        _fail(f"cannot prepare the data dir: {exc}", EXIT_CONFIG)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"oored: {message}", err=True)
    sys.exit(code)


def main() -> None:
    cli(_anyio_backend="trio")


if __name__ == "__main__":
    main()
