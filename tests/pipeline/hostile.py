"""Hostile pipeline files (issue 10), shared by the unit and end-to-end tests."""

from __future__ import annotations


def anchors(count: int = 30_000) -> str:
    """A file of `count` anchors: ~0.7 MB that took 2.5 s to read on the event loop."""
    lines = ["definitions:"]
    lines += [f"  a{i}: &a{i} value-{i}" for i in range(count)]
    lines += ["workflows:", "  w:", "    scripts:", "      - echo hi"]
    return "\n".join(lines) + "\n"


def alias_bomb(levels: int = 9) -> str:
    """Billion laughs: each level is ten aliases of the one before (10**levels values)."""
    lines = ["lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 10) + "]")
    lines += ["workflows:", "  w:", "    scripts:", f"      - echo *lol{levels}"]
    return "\n".join(lines) + "\n"


def many_workflows(count: int) -> str:
    body = "".join(f"  w{i}:\n    scripts:\n      - echo {i}\n" for i in range(count))
    return "workflows:\n" + body
