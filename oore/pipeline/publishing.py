"""Reading a workflow's `publishing` section: email, Slack and publishing scripts.

Email sends on success and on failure unless `notify` turns one off
(https://docs.codemagic.io/yaml-notification/email/); Slack adds `notify_on_build_start`.
`app_store_connect`, `google_play` and `firebase` are kept as written for a later publisher.
"""

from __future__ import annotations

from collections.abc import Collection

from oore.pipeline.fields import Ctx, check_keys, join, opt_bool, opt_map, opt_text, text_list
from oore.pipeline.spec import (
    EMAIL_NOTIFY_DEFAULT,
    NO_PUBLISHING,
    SLACK_NOTIFY_DEFAULT,
    Publishing,
    frozen_map,
)
from oore.pipeline.steps import parse_scripts
from oore.pipeline.ynodes import YMap, YNode, YScalar, YSeq

RECORDED = ("app_store_connect", "google_play", "firebase")
PUBLISHING_KEYS = ("email", "slack", "scripts", *RECORDED)
EMAIL_KEYS = ("recipients", "notify")
# Mail goes out through the operator's SMTP account: a pipeline (anyone who can push one)
# must not make it a bulk mailer.
MAX_EMAIL_RECIPIENTS = 20
SLACK_KEYS = ("channel", "notify_on_build_start", "notify")
NOTIFY_KEYS = ("success", "failure")


def parse_publishing(ctx: Ctx, workflow: YMap, path: str, inputs: Collection[str]) -> Publishing:
    found = opt_map(ctx, workflow, "publishing", path)
    if found is None:
        return NO_PUBLISHING
    section, _ = found
    ppath = join(path, "publishing")
    check_keys(ctx, section, ppath, PUBLISHING_KEYS)
    scripts = section.pairs.get("scripts")
    recipients, email_notify = _email(ctx, section, ppath)
    channel, slack_notify = _slack(ctx, section, ppath)
    other: dict[str, object] = {}
    for name in RECORDED:
        if name in section.pairs:
            pair = section.pairs[name]
            other[name] = plain(pair.node)
            ctx.warn(pair.key_line, join(ppath, name), f"{name} is recorded, not published yet")
    return Publishing(
        scripts=parse_scripts(ctx, scripts, join(ppath, "scripts"), inputs) if scripts else (),
        email_recipients=recipients,
        email_notify=frozen_map(email_notify),
        slack_channel=channel,
        slack_notify=frozen_map(slack_notify),
        other=frozen_map(other),
    )


def _email(ctx: Ctx, section: YMap, path: str) -> tuple[tuple[str, ...], dict[str, bool]]:
    found = opt_map(ctx, section, "email", path)
    if found is None:
        return (), dict(EMAIL_NOTIFY_DEFAULT)
    email, line = found
    epath = join(path, "email")
    check_keys(ctx, email, epath, EMAIL_KEYS)
    recipients = text_list(ctx, email, "recipients", epath)
    if not recipients:
        raise ctx.error(line, join(epath, "recipients"), "list at least one address")
    if len(recipients) > MAX_EMAIL_RECIPIENTS:
        raise ctx.error(
            line,
            join(epath, "recipients"),
            f"list at most {MAX_EMAIL_RECIPIENTS} addresses (a mailing list counts as one)",
        )
    return recipients, _notify(ctx, email, epath, dict(EMAIL_NOTIFY_DEFAULT))


def _slack(ctx: Ctx, section: YMap, path: str) -> tuple[str | None, dict[str, bool]]:
    found = opt_map(ctx, section, "slack", path)
    if found is None:
        return None, dict(SLACK_NOTIFY_DEFAULT)
    slack, line = found
    spath = join(path, "slack")
    check_keys(ctx, slack, spath, SLACK_KEYS)
    channel = opt_text(ctx, slack, "channel", spath)
    if not channel:
        raise ctx.error(line, join(spath, "channel"), "name the channel, e.g. '#builds'")
    notify = _notify(ctx, slack, spath, dict(SLACK_NOTIFY_DEFAULT))
    notify["start"] = opt_bool(ctx, slack, "notify_on_build_start", spath, False)
    return channel, notify


def _notify(ctx: Ctx, parent: YMap, path: str, notify: dict[str, bool]) -> dict[str, bool]:
    found = opt_map(ctx, parent, "notify", path)
    if found is not None:
        npath = join(path, "notify")
        check_keys(ctx, found[0], npath, NOTIFY_KEYS)
        for name in NOTIFY_KEYS:
            notify[name] = opt_bool(ctx, found[0], name, npath, notify[name])
    return notify


def plain(node: YNode) -> object:
    """The value as plain Python data, for sections kept as written."""
    if isinstance(node, YMap):
        return {name: plain(pair.node) for name, pair in node.pairs.items()}
    if isinstance(node, YSeq):
        return [plain(item) for item in node.items]
    assert isinstance(node, YScalar)
    return node.value
