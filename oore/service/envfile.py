"""`oored init`: the plan that creates the env file, or completes it, without losing a value.

A new file gets a generated admin token and encryption key, unless the data directory already
holds ones that `oored run` generated earlier: those are adopted, because the database's sealed
secrets open only with that key. An existing file keeps every line; missing secrets are appended.
`force` starts from a fresh file with fresh secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from oore import crypto
from oore.config import default_data_dir, parse_env_file, settings_from
from oore.errors import ConfigError
from oore.secretfiles import ADMIN_TOKEN_FILE, ENCRYPTION_KEY_FILE
from oore.service.steps import Chmod, Step, WriteFile
from oore.service.templates import ENV, render

TOKEN_KEY = "OORE_ADMIN_TOKEN"
KEY_KEY = "OORE_ENCRYPTION_KEY"
DEFAULT_BIND = "127.0.0.1:8080"
MODE = 0o600
_GENERATORS = {TOKEN_KEY: crypto.generate_token, KEY_KEY: crypto.generate_key}
_DATA_DIR_FILES = {TOKEN_KEY: ADMIN_TOKEN_FILE, KEY_KEY: ENCRYPTION_KEY_FILE}


@dataclass(frozen=True, slots=True)
class EnvPlan:
    path: Path
    values: dict[str, str] = field(repr=False)
    steps: list[Step]
    generated: list[str]
    adopted: dict[str, Path]


def plan_env_file(
    path: Path,
    *,
    force: bool,
    is_root: bool,
    environ: Mapping[str, str],
    settings: Mapping[str, str] | None = None,
) -> EnvPlan:
    """`settings`: values the file must have (`oored install`'s OORE_BUILD_USER); an existing
    value is kept, a missing one added."""
    wanted = dict(settings or {})
    if force or not path.exists():
        plan = _fresh(path, adopt=not force, is_root=is_root, environ=environ, wanted=wanted)
    else:
        plan = _complete(path, is_root=is_root, environ=environ, wanted=wanted)
    _validate(path, plan.values, is_root, environ)
    return plan


def _fresh(
    path: Path, *, adopt: bool, is_root: bool, environ: Mapping[str, str], wanted: dict[str, str]
) -> EnvPlan:
    data_dir = _data_dir({}, is_root, environ)
    found = _data_dir_secrets(data_dir) if adopt else {}
    secrets = {name: found.get(name) or generate() for name, generate in _GENERATORS.items()}
    values = {
        "OORE_BIND": environ.get("OORE_BIND") or DEFAULT_BIND,
        "OORE_DATA_DIR": str(data_dir),
        **secrets,
    }
    content = render(ENV, {key.removeprefix("OORE_").lower(): val for key, val in values.items()})
    if wanted:
        content += "\n# Set by `oored init` / `oored install`.\n"
        content += "".join(f"{name}={value}\n" for name, value in wanted.items())
    return EnvPlan(
        path=path,
        values=values | wanted,
        steps=[WriteFile(path, content, MODE, secret=True)],
        generated=[name for name in _GENERATORS if name not in found],
        adopted={name: data_dir / _DATA_DIR_FILES[name] for name in found},
    )


def _complete(
    path: Path, *, is_root: bool, environ: Mapping[str, str], wanted: dict[str, str]
) -> EnvPlan:
    values = parse_env_file(path)
    missing = [name for name in _GENERATORS if not values.get(name)]
    data_dir = _data_dir(values, is_root, environ)
    found = {k: v for k, v in _data_dir_secrets(data_dir).items() if k in missing}
    added = {name: found.get(name) or _GENERATORS[name]() for name in missing}
    added |= {name: value for name, value in wanted.items() if name not in values}
    steps: list[Step] = []
    if added:
        text = path.read_text(encoding="utf-8-sig").rstrip("\n")
        lines = "".join(f"{name}={value}\n" for name, value in added.items())
        steps.append(
            WriteFile(path, f"{text}\n\n# Added by `oored init`.\n{lines}", MODE, secret=True)
        )
    elif path.stat().st_mode & 0o077:
        steps.append(Chmod(path, MODE))
    return EnvPlan(
        path=path,
        values=values | added,
        steps=steps,
        generated=[name for name in added if name in _GENERATORS and name not in found],
        adopted={name: data_dir / _DATA_DIR_FILES[name] for name in found},
    )


def _data_dir(values: Mapping[str, str], is_root: bool, environ: Mapping[str, str]) -> Path:
    named = values.get("OORE_DATA_DIR") or environ.get("OORE_DATA_DIR")
    return Path(named) if named else default_data_dir(is_root=is_root, environ=environ)


def _data_dir_secrets(data_dir: Path) -> dict[str, str]:
    """The admin token and key `oored run` generated into the data dir, if it did."""
    found = {}
    for name, file_name in _DATA_DIR_FILES.items():
        try:
            value = (data_dir / file_name).read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise ConfigError(f"cannot read {data_dir / file_name}: {exc.strerror}") from None
        if value:
            found[name] = value
    return found


def _validate(
    path: Path, values: Mapping[str, str], is_root: bool, environ: Mapping[str, str]
) -> None:
    """Check the result as oored will read it, naming the file; no value is ever quoted."""
    home = {"HOME": environ["HOME"]} if environ.get("HOME") else {}
    try:
        settings_from({**home, **values}, is_root=is_root)
    except ConfigError as exc:
        raise ConfigError(
            f"{path} has settings oored would refuse (fix them, or replace the file with "
            f"`oored init --force`):\n{exc.message}"
        ) from None


def describe(plan: EnvPlan, *, dry_run: bool) -> list[str]:
    """What the plan does to the secrets, for people; never a secret itself."""
    generate, keep = ("would generate", "would keep") if dry_run else ("generated", "kept")
    lines = []
    if plan.generated:
        lines.append(f"{generate} {' and '.join(plan.generated)} in {plan.path}")
    for name, source in plan.adopted.items():
        lines.append(f"{keep} {name} from {source}, so data sealed with it stays readable")
    if not any(isinstance(step, WriteFile) for step in plan.steps):
        lines.append(f"{plan.path} already has an admin token and an encryption key")
    return lines
