"""The import graph of `oore/`: no cycle between its parts and no arrow pointing up.

Each top-level part (a package or module under `oore/`) sits in a layer; a part may import from
its own layer's other parts or from layers below, never from above. The store, logs, webhooks,
pipeline, git and execution code thus import nothing from the actors or HTTP, and the actors
nothing from HTTP. A new part must be given a layer here: that is the moment to decide where it
belongs. Imports inside `if TYPE_CHECKING:` count too (a cycle for mypy is a cycle for a reader).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import oore

ROOT = Path(oore.__file__).parent
LAYERS: list[set[str]] = [
    {"errors", "ids", "groups", "primitives", "paths", "__init__"},
    {
        "model",
        "crypto",
        "envfile",
        "config",
        "settingstable",
        "secretfiles",
        "datalock",
        "logsetup",
        "tuning",
    },
    {"store", "git", "pipeline", "logs", "execution"},
    {"webhooks", "providers", "notify"},
    {"actors"},
    {"http"},
    {"wiring"},
    {"daemon"},
    {"service", "cli"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def part_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def imported_parts(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {_part(n.split(".")[1]) for n in names if n.startswith("oore.")}
    return found


def _part(name: str) -> str:
    """A name imported from `oore`: one of its parts, or something its `__init__` defines."""
    is_part = (ROOT / name).is_dir() or (ROOT / f"{name}.py").is_file()
    return name if is_part else "__init__"


def edges() -> dict[str, dict[str, list[str]]]:
    """part -> imported part -> the files that import it."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(ROOT.rglob("*.py")):
        source = part_of(path)
        for target in imported_parts(path) - {source}:
            graph[source][target].append(str(path.relative_to(ROOT.parent)))
    return graph


def test_every_part_has_a_layer() -> None:
    parts = {part_of(p) for p in ROOT.rglob("*.py")}
    assert parts - set(RANK) == set(), "give these a layer in LAYERS"


def test_no_import_points_up() -> None:
    upward = [
        f"{files[0]} imports oore.{target} (layer {RANK[target]} > {RANK[source]})"
        for source, targets in edges().items()
        for target, files in targets.items()
        if RANK.get(target, 99) > RANK.get(source, -1)
    ]
    assert upward == []


def test_no_cycle_between_parts() -> None:
    graph = {source: set(targets) for source, targets in edges().items()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(part: str) -> None:
        if part in visiting:
            raise AssertionError("import cycle: " + " -> ".join([*visiting, part]))
        if part in done:
            return
        visiting.append(part)
        for target in sorted(graph.get(part, ())):
            visit(target)
        visiting.pop()
        done.add(part)

    for part in sorted(graph):
        visit(part)


def test_the_checks_see_an_upward_import(tmp_path: Path) -> None:
    # The parser must find the kinds of import the codebase uses, or the checks above pass idly.
    module = tmp_path / "m.py"
    module.write_text(
        "from oore.actors.runtime import mailbox\nimport oore.http.app\nfrom oore import wiring\n"
    )
    assert imported_parts(module) == {"actors", "http", "wiring"}
    assert edges()["daemon"]["wiring"] == ["oore/daemon.py"]
