"""The `when.condition` language: a tokenizer and a recursive-descent parser, never `eval`.

Codemagic documents `env.NAME`, `event.<payload path>`, `==`, `not`, `and`, `or` and brackets,
with examples such as `not event.pull_request.labels[0].name == "codemagicTest"` and
`${{ inputs.runTests }}` (https://docs.codemagic.io/yaml-running-builds/starting-builds-automatically/,
https://docs.codemagic.io/knowledge-codemagic/build-inputs/). Grammar, loosest first:

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := operand (("==" | "!=") operand)?
    operand := string | number | true | false | null | path | "(" expr ")"
    path    := ("env" | "event" | "inputs") ("." name | "[" integer | string "]")+
             | "${{" "inputs." name "}}"

so `not a == b` reads as `not (a == b)`, as in Python. A bad expression raises
`ConditionError` with the 1-based column; nothing else is raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_DEPTH = 50
# The tree is evaluated recursively; a budget on operators bounds its depth.
MAX_OPERATORS = 200
ROOTS = ("env", "event", "inputs")
_KEYWORDS = {"and", "or", "not"}
_LITERALS: dict[str, object] = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
}
_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<inputs>\$\{\{\s*inputs\s*\.\s*(?P<input>[A-Za-z_][A-Za-z0-9_]*)\s*\}\})
      | (?P<op>==|!=|[().\[\]])
      | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
      | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t"}


class ConditionError(ValueError):
    """The condition text is not an expression; `column` is 1-based."""

    def __init__(self, reason: str, column: int) -> None:
        super().__init__(f"{reason} at column {column}")
        self.reason = reason
        self.column = column


@dataclass(frozen=True, slots=True)
class Literal:
    value: object


@dataclass(frozen=True, slots=True)
class Path:
    root: str
    parts: tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # "==" | "!="
    left: Expr
    right: Expr


Expr = Literal | Path | Not | BoolOp | Compare


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition; `source` is the text as written in the file."""

    source: str
    tree: Expr

    def paths(self) -> tuple[Path, ...]:
        return tuple(_paths(self.tree))


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # op | number | name | string | path | end
    text: str
    column: int
    value: object = None


def parse_condition(source: str) -> Condition:
    tokens = _tokenize(source)
    parser = _Parser(tokens)
    tree = parser.expr(0)
    parser.expect_end()
    return Condition(source, tree)


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise ConditionError(f"unexpected {source[position]!r}", position + 1)
        kind = match.lastgroup or ""
        column = position + 1
        position = match.end()
        if kind == "input":  # the inner group of "inputs" is matched last
            kind = "inputs"
        if kind != "space":
            tokens.append(_make_token(kind, match, column))
    tokens.append(_Token("end", "end of condition", len(source) + 1))
    return tokens


def _make_token(kind: str, match: re.Match[str], column: int) -> _Token:
    text = match.group(0)
    if kind == "inputs":
        return _Token("path", text, column, Path("inputs", (match.group("input"),)))
    if kind == "number":
        return _Token(kind, text, column, float(text) if "." in text else int(text))
    if kind == "string":
        return _Token(kind, text, column, _unquote(text[1:-1]))
    return _Token(kind, text, column)


def _unquote(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.DOTALL)


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.operators = 0

    def count_operator(self, token: _Token) -> None:
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            raise ConditionError(f"more than {MAX_OPERATORS} operators", token.column)

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.token
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        return self.token.kind == kind and (text is None or self.token.text == text)

    def fail(self, expected: str) -> ConditionError:
        token = self.token
        found = token.text if token.kind == "end" else repr(token.text)
        return ConditionError(f"expected {expected}, found {found}", token.column)

    def expect_end(self) -> None:
        if not self.at("end"):
            raise self.fail("'and', 'or' or the end")

    def expr(self, depth: int) -> Expr:
        if depth > MAX_DEPTH:
            raise ConditionError("the condition is nested too deeply", self.token.column)
        left = self.conjunction(depth)
        while self.at("name", "or"):
            self.count_operator(self.advance())
            left = BoolOp("or", left, self.conjunction(depth))
        return left

    def conjunction(self, depth: int) -> Expr:
        left = self.negation(depth)
        while self.at("name", "and"):
            self.count_operator(self.advance())
            left = BoolOp("and", left, self.negation(depth))
        return left

    def negation(self, depth: int) -> Expr:
        if self.at("name", "not"):
            self.count_operator(self.advance())
            if depth >= MAX_DEPTH:
                raise ConditionError("the condition is nested too deeply", self.token.column)
            return Not(self.negation(depth + 1))
        return self.comparison(depth)

    def comparison(self, depth: int) -> Expr:
        left = self.operand(depth)
        if self.at("op", "==") or self.at("op", "!="):
            token = self.advance()
            self.count_operator(token)
            op = token.text
            return Compare(op, left, self.operand(depth))
        return left

    def operand(self, depth: int) -> Expr:
        token = self.token
        if token.kind in ("number", "string"):
            self.advance()
            return Literal(token.value)
        if token.kind == "path":
            self.advance()
            assert isinstance(token.value, Path)
            return token.value
        if self.at("op", "("):
            self.advance()
            inner = self.expr(depth + 1)
            if not self.at("op", ")"):
                raise self.fail("')'")
            self.advance()
            return inner
        if token.kind == "name" and token.text not in _KEYWORDS:
            return self.name()
        raise self.fail("a value (a quoted string, a number, true, false, null, env.NAME, ...)")

    def name(self) -> Expr:
        token = self.advance()
        if token.text in _LITERALS:
            return Literal(_LITERALS[token.text])
        if token.text not in ROOTS:
            raise ConditionError(
                f"unknown name {token.text!r}: use env.NAME, event.PATH or inputs.NAME",
                token.column,
            )
        parts = self.path_parts()
        if not parts:
            raise self.fail(f"'.' and a name after {token.text!r}")
        return Path(token.text, tuple(parts))

    def path_parts(self) -> list[str | int]:
        parts: list[str | int] = []
        while True:
            if self.at("op", "."):
                self.advance()
                if not self.at("name"):
                    raise self.fail("a name after '.'")
                parts.append(self.advance().text)
            elif self.at("op", "["):
                self.advance()
                parts.append(self.subscript())
            else:
                return parts

    def subscript(self) -> str | int:
        token = self.token
        if not (token.kind == "string" or isinstance(token.value, int)):
            raise self.fail("a whole number or a quoted key inside '[ ]'")
        self.advance()
        if not self.at("op", "]"):
            raise self.fail("']'")
        self.advance()
        assert isinstance(token.value, (str, int))
        return token.value


def _paths(tree: Expr) -> list[Path]:
    if isinstance(tree, Path):
        return [tree]
    if isinstance(tree, Not):
        return _paths(tree.operand)
    if isinstance(tree, (BoolOp, Compare)):
        return _paths(tree.left) + _paths(tree.right)
    return []
