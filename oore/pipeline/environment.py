"""Reading a workflow's `environment`, `cache` and `inputs` sections.

`environment.vars` values are kept as the file spells them (`BUILD: 1.10` is "1.10", not 1.1);
tool versions likewise (`xcode: 14.10`). Code signing is not done yet, so `ios_signing` and
`android_signing` only warn. Inputs follow https://docs.codemagic.io/knowledge-codemagic/build-inputs/:
types `string` (the default), `number`, `boolean` and `choice` (which needs `options`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from oore.pipeline.fields import (
    Ctx,
    as_map,
    check_keys,
    describe,
    join,
    opt_bool,
    opt_map,
    opt_text,
    text_list,
)
from oore.pipeline.spec import Environment, InputSpec, frozen_map
from oore.pipeline.ynodes import YMap, YNode, YScalar, YSeq

TOOLS = ("flutter", "xcode", "cocoapods", "java", "node", "npm", "ndk", "ruby", "ubuntu")
# Oore picks these versions among what the machine has (oore.execution.toolchains); the others
# it only exports as OORE_<TOOL>_VERSION, so the machine's own runs.
HONOURED = ("flutter", "xcode", "cocoapods", "java")
MACHINE_DEFAULT = ("default", "latest", "stable")
SIGNING = ("ios_signing", "android_signing")
ENV_KEYS = ("vars", "groups", "git_credentials", *TOOLS, *SIGNING)
ENV_ELSEWHERE = {"cache_paths": "cache", "scripts": "the workflow", "events": "triggering"}
INPUT_KEYS = ("description", "type", "default", "options")
INPUT_TYPES = ("string", "number", "boolean", "choice")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_environment(ctx: Ctx, workflow: YMap, path: str) -> Environment:
    found = opt_map(ctx, workflow, "environment", path)
    if found is None:
        return Environment(frozen_map({}), (), frozen_map({}))
    env, _ = found
    epath = join(path, "environment")
    check_keys(ctx, env, epath, ENV_KEYS, ENV_ELSEWHERE)
    for name in SIGNING:
        if name in env.pairs:
            ctx.warn(
                env.pairs[name].key_line,
                join(epath, name),
                f"{name} is not supported yet: Oore does not sign this build; "
                "the other steps run as written",
            )
    tools = {name: opt_text(ctx, env, name, epath) for name in TOOLS}
    for name, version in tools.items():
        if name not in HONOURED and version and version.lower() not in MACHINE_DEFAULT:
            ctx.warn(
                env.pairs[name].key_line,
                join(epath, name),
                f"ignored on a self-hosted machine: builds run this machine's {name}, not "
                f"{version} (a script can read the version asked for in "
                f"OORE_{name.upper()}_VERSION)",
            )
    return Environment(
        vars=frozen_map(_vars(ctx, env, epath)),
        groups=text_list(ctx, env, "groups", epath),
        tool_versions=frozen_map({name: v for name, v in tools.items() if v is not None}),
        git_credentials=opt_bool(ctx, env, "git_credentials", epath, False),
    )


def _vars(ctx: Ctx, env: YMap, path: str) -> dict[str, str]:
    found = opt_map(ctx, env, "vars", path)
    if found is None:
        return {}
    variables, _ = found
    vpath = join(path, "vars")
    values: dict[str, str] = {}
    for name, pair in variables.pairs.items():
        key = join(vpath, name)
        if not NAME.fullmatch(name):
            raise ctx.error(pair.key_line, key, "a variable name is letters, digits and '_'")
        if not isinstance(pair.node, YScalar):
            raise ctx.error(pair.key_line, key, f"must be text, not {describe(pair.node)}")
        values[name] = _as_written(pair.node)
    return values


def _as_written(node: YScalar) -> str:
    if node.value is None:
        return ""
    return node.value if isinstance(node.value, str) else node.text


def parse_cache(ctx: Ctx, workflow: YMap, path: str) -> tuple[str, ...]:
    pair = workflow.pairs.get("cache")
    if pair is None:
        return ()
    cpath = join(path, "cache")
    if isinstance(pair.node, YSeq):
        ctx.warn(
            pair.key_line,
            cpath,
            "ignored: a bare list under cache does nothing; "
            "did you mean cache: with the list under cache_paths:?",
        )
        return ()
    found = opt_map(ctx, workflow, "cache", path)
    if found is None:
        return ()
    check_keys(ctx, found[0], cpath, ("cache_paths",))
    return text_list(ctx, found[0], "cache_paths", cpath)


def parse_inputs(ctx: Ctx, workflow: YMap, path: str) -> Mapping[str, InputSpec]:
    found = opt_map(ctx, workflow, "inputs", path)
    if found is None:
        return frozen_map({})
    inputs, _ = found
    ipath = join(path, "inputs")
    specs: dict[str, InputSpec] = {}
    for name, pair in inputs.pairs.items():
        key = join(ipath, name)
        if not NAME.fullmatch(name):
            raise ctx.error(pair.key_line, key, "an input id is letters, digits and '_'")
        specs[name] = _input(ctx, name, as_map(ctx, pair.node, pair.key_line, key), key)
    return frozen_map(specs)


def _input(ctx: Ctx, name: str, spec: YMap, path: str) -> InputSpec:
    check_keys(ctx, spec, path, INPUT_KEYS)
    kind = opt_text(ctx, spec, "type", path) or "string"
    if kind not in INPUT_TYPES:
        line = spec.pairs["type"].key_line
        raise ctx.error(line, join(path, "type"), f"must be one of {', '.join(INPUT_TYPES)}")
    options = text_list(ctx, spec, "options", path)
    if (kind == "choice") != bool(options):
        line = spec.pairs["options" if "options" in spec.pairs else "type"].key_line
        message = "a choice input needs options" if kind == "choice" else "only choice has options"
        raise ctx.error(line, join(path, "options"), message)
    default = _default(ctx, spec, path, kind, options)
    return InputSpec(name, kind, default, opt_text(ctx, spec, "description", path), options)


def _default(
    ctx: Ctx, spec: YMap, path: str, kind: str, options: tuple[str, ...]
) -> str | bool | int | float | None:
    pair = spec.pairs.get("default")
    if pair is None or (isinstance(pair.node, YScalar) and pair.node.value is None):
        return None
    value = _typed(pair.node, kind, options)
    if value is None:
        wanted = {"number": "a number", "boolean": "true or false"}.get(kind, "text")
        if kind == "choice":
            wanted = f"one of the options ({', '.join(options)})"
        raise ctx.error(pair.key_line, join(path, "default"), f"must be {wanted}")
    return value


def _typed(node: YNode, kind: str, options: tuple[str, ...]) -> str | bool | int | float | None:
    if not isinstance(node, YScalar) or node.value is None:
        return None
    value = node.value
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "number":
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    text = value if isinstance(value, str) else node.text
    if kind == "choice" and text not in options:
        return None
    return text
