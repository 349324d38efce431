"""Rendering the service files from the templates shipped in `oore/deploy/`.

`string.Template.substitute` fails on a placeholder without a value, so a template and the code
that fills it cannot drift apart silently.
"""

from __future__ import annotations

from html import escape
from importlib import resources
from string import Template

from oore.service.runner import ServiceError

PLIST = "launchd/build.oore.oored.plist"
UNIT = "systemd/oored.service"
ENV = "oore.env.example"
NEWSYSLOG = "newsyslog/oore.conf"
LOGROTATE = "logrotate/oored"

# Characters systemd would read as quoting, specifiers (%) or variables ($) in a unit file.
_UNIT_UNSAFE = frozenset(" \t\n\"'\\%$;")


def template_text(name: str) -> str:
    return resources.files("oore").joinpath("deploy", name).read_text(encoding="utf-8")


def render(name: str, values: dict[str, str]) -> str:
    return Template(template_text(name)).substitute(values)


def render_plist(values: dict[str, str]) -> str:
    return render(PLIST, {key: escape(value, quote=False) for key, value in values.items()})


def render_unit(values: dict[str, str]) -> str:
    for key, value in values.items():
        if _UNIT_UNSAFE.intersection(value):
            raise ServiceError(
                f"{key} {value!r} holds a space, quote, %, $ or ; which a systemd unit would "
                "misread; choose a plain path"
            )
    return render(UNIT, values)
