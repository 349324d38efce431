"""YAML text to a small tree that remembers the line of every key and value.

PyYAML's composer (`yaml.compose` with the safe loader) gives nodes with marks; this module turns
them into `YMap`/`YSeq`/`YScalar` values, resolving aliases and merge keys (`<<: *x`) the way
`SafeConstructor` does (explicit keys win over merged ones, earlier merges over later ones), and
keeps each scalar's text as written so `xcode: 14.10` stays "14.10". A file that is not YAML
becomes an `InvalidPipeline` naming the line, with a hint for the three mistakes real
`codemagic.yaml` files make: an undefined alias, a tab used as indentation, a mis-indented key.

Reading is bounded: at most `MAX_TEXT_CHARS` of text, `MAX_EXPANDED_NODES` values once aliases
are expanded, and a time budget checked at every node, so a hostile file (30,000 anchors, an alias
bomb) is refused within the budget instead of holding a worker thread or the event loop.
"""

from __future__ import annotations

import time

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from oore.errors import InvalidPipeline
from oore.pipeline.ynodes import (
    MAX_EXPANDED_NODES,
    MAX_TEXT_CHARS,
    PARSE_SECONDS,
    Warn,
    YMap,
    YNode,
    YPair,
    YScalar,
    YSeq,
)

_MERGE_TAG = "tag:yaml.org,2002:merge"
_TYPED_TAGS = {
    "tag:yaml.org,2002:bool": SafeConstructor.construct_yaml_bool,
    "tag:yaml.org,2002:int": SafeConstructor.construct_yaml_int,
    "tag:yaml.org,2002:float": SafeConstructor.construct_yaml_float,
}
_CONSTRUCTOR = SafeConstructor()


class Budget:
    """A time limit for reading one file, checked as the reading goes (a thread can't be
    stopped from outside)."""

    def __init__(self, file: str, seconds: float) -> None:
        self.file = file
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise InvalidPipeline(
                self.file,
                None,
                None,
                f"reading the file took longer than {self.seconds:g} s: it is too complex "
                "(use fewer anchors and aliases, or a smaller file)",
            )


class _BudgetLoader(yaml.SafeLoader):
    budget: Budget

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self.budget.check()
        return super().compose_node(parent, index)


def parse_yaml(text: str, file: str, warn: Warn, seconds: float = PARSE_SECONDS) -> YNode | None:
    """The document's tree, or None for an empty file; raises `InvalidPipeline` with a line."""
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidPipeline(
            file, None, None, f"the file is larger than {MAX_TEXT_CHARS} characters"
        )
    budget = Budget(file, seconds)
    try:
        root = _compose(text, budget)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(file, exc) from exc
    except yaml.YAMLError as exc:
        raise _reader_error(file, text, exc) from exc
    except RecursionError as exc:
        raise InvalidPipeline(file, None, None, "the YAML is nested too deeply") from exc
    if root is None:
        return None
    _check_size(file, root, budget)
    try:
        return _Converter(file, warn, budget).node(root)
    except RecursionError as exc:
        raise InvalidPipeline(file, None, None, "the YAML is nested too deeply") from exc


def _compose(text: str, budget: Budget) -> Node | None:
    loader = _BudgetLoader(text)
    loader.budget = budget
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _check_size(file: str, root: Node, budget: Budget) -> None:
    sizes: dict[int, int] = {}

    def size(node: Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        budget.check()
        sizes[id(node)] = 1  # a loop counts once here; the converter reports it
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        total = 1 + sum(size(child) for child in children)
        sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
        return sizes[id(node)]

    if size(root) > MAX_EXPANDED_NODES:
        raise InvalidPipeline(
            file, None, None, f"the YAML expands to more than {MAX_EXPANDED_NODES} values"
        )


class _Converter:
    def __init__(self, file: str, warn: Warn, budget: Budget) -> None:
        self.file = file
        self.warn = warn
        self.budget = budget
        self.done: dict[int, YNode] = {}
        self.active: set[int] = set()

    def node(self, node: Node) -> YNode:
        known = self.done.get(id(node))
        if known is not None:
            return known
        self.budget.check()
        if id(node) in self.active:
            raise InvalidPipeline(
                self.file, _line(node), None, "an alias refers to its own anchor (a loop)"
            )
        self.active.add(id(node))
        try:
            result = self._convert(node)
        finally:
            self.active.discard(id(node))
        self.done[id(node)] = result
        return result

    def _convert(self, node: Node) -> YNode:
        if isinstance(node, MappingNode):
            return self._mapping(node)
        if isinstance(node, SequenceNode):
            return YSeq(_line(node), tuple(self.node(item) for item in node.value))
        assert isinstance(node, ScalarNode)
        return _scalar(node)

    def _mapping(self, node: MappingNode) -> YMap:
        explicit: dict[str, YPair] = {}
        merged: dict[str, YPair] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                for source in self._merge_sources(key_node, self.node(value_node)):
                    for name, pair in source.pairs.items():
                        merged.setdefault(name, pair)
                continue
            name, is_text = self._key(key_node)
            if name in explicit:
                self.warn(
                    _line(key_node),
                    name,
                    f"duplicate key {name!r} (first on line {explicit[name].key_line}): "
                    "the later value wins",
                )
            explicit[name] = YPair(_line(key_node), self.node(value_node), is_text)
        return YMap(_line(node), {**merged, **explicit})

    def _key(self, key: Node) -> tuple[str, bool]:
        if not isinstance(key, ScalarNode):
            raise InvalidPipeline(self.file, _line(key), None, "a key must be plain text")
        return str(key.value), key.tag == "tag:yaml.org,2002:str"

    def _merge_sources(self, key: Node, value: YNode) -> list[YMap]:
        sources = list(value.items) if isinstance(value, YSeq) else [value]
        if not all(isinstance(source, YMap) for source in sources):
            raise InvalidPipeline(
                self.file,
                _line(key),
                "<<",
                "<< merges mappings: give it an alias such as *name (or a list of aliases)",
            )
        return [source for source in sources if isinstance(source, YMap)]


def _scalar(node: ScalarNode) -> YScalar:
    text = str(node.value)
    block = node.style in ("|", ">")
    if node.tag == "tag:yaml.org,2002:null":
        return YScalar(_line(node), None, text, False)
    construct = _TYPED_TAGS.get(node.tag)
    if construct is not None:
        try:
            return YScalar(_line(node), construct(_CONSTRUCTOR, node), text, False)
        except (ValueError, TypeError):
            pass
    return YScalar(_line(node), text, text, True, block)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _yaml_error(file: str, exc: yaml.MarkedYAMLError) -> InvalidPipeline:
    mark = exc.problem_mark or exc.context_mark
    line = None if mark is None else int(mark.line) + 1
    return InvalidPipeline(file, line, None, _explain(exc, line))


def _explain(exc: yaml.MarkedYAMLError, line: int | None) -> str:
    problem = str(exc.problem or exc.context or "not valid YAML")
    context_line = None if exc.context_mark is None else int(exc.context_mark.line) + 1
    if "'\\t'" in problem:
        return "a tab character here: YAML must be indented with spaces, never tabs"
    if problem.startswith("found undefined alias"):
        name = problem.rpartition(" ")[2].strip("'")
        return f"undefined alias *{name}: no anchor &{name} is defined above this line"
    if problem == "mapping values are not allowed here":
        return (
            "unexpected ':' here: this key is indented differently from the keys above it "
            "(or a value containing ': ' needs quotes)"
        )
    if problem.startswith("expected <block end>") and context_line not in (None, line):
        return (
            f"this line is indented differently from the block that starts on line "
            f"{context_line}: line the keys (or list items) up under each other"
        )
    if problem == "but found another document":
        return "the file holds more than one YAML document ('---'); keep one"
    return f"not valid YAML: {problem}"


def _reader_error(file: str, text: str, exc: yaml.YAMLError) -> InvalidPipeline:
    position = getattr(exc, "position", None)
    line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
    character = getattr(exc, "character", None)
    if isinstance(character, str) and len(character) == 1:
        character = ord(character)
    if isinstance(character, int):
        what = f"character U+{character:04X} is not allowed in YAML text"
    else:
        what = str(exc).splitlines()[0]
    return InvalidPipeline(file, line, None, f"not valid YAML: {what}")
