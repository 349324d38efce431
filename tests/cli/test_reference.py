"""README's CLI reference is the generator's output: it cannot drift from the commands."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cli_reference", ROOT / "scripts/cli_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_cli_reference_is_current() -> None:
    reference = generator()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert reference.replaced(readme, reference.render()) == readme, (
        "README.md's CLI reference differs from the commands' --help: "
        "run `python scripts/cli_reference.py` and commit README.md"
    )


def test_reference_covers_every_command_of_both_programs() -> None:
    reference = generator()
    rendered = reference.render()
    paths = [path for path, _ in reference.all_commands()]
    for path in paths:
        assert f"`{path}`" in rendered
    assert {"oore", "oored", "oore build download", "oore secrets set", "oored run"} <= set(paths)
    # Every command's help is there in full: its usage line and its options.
    for path, text in reference.all_commands():
        assert text.startswith(f"Usage: {path} ")
        assert text.rstrip() in rendered
