"""`oore settings slack|smtp set|show|clear|test`: how Oore reaches Slack and email.

A secret (Slack's incoming-webhook URL or bot token, the SMTP password) is read from stdin,
typed with hidden input at a terminal or one line of a pipe or file, never from the command
line, where `ps` and the shell's history would show it. The server stores it sealed and never
shows it again: `show` says only whether one is set.
"""

from __future__ import annotations

from typing import Any

import asyncclick as click

from oore.cli.client.commands.common import read_secret
from oore.cli.client.errors import invalid
from oore.cli.client.session import Session, pass_session

SLACK = "/api/settings/slack"
SMTP = "/api/settings/smtp"


@click.group()
def settings() -> None:
    """How Oore posts build outcomes to Slack and sends them by email.

    A workflow asks for them in its `publishing.slack` and `publishing.email`.

    \b
    Example:
        oore settings slack set --webhook < webhook-url.txt
        oore settings smtp set --host smtp.example.com --from ci@example.com --username ci
    """


@settings.group()
def slack() -> None:
    """Slack: an incoming webhook, or a bot token posting to each workflow's channel.

    \b
    Example:
        oore settings slack set < webhook-url.txt
        oore settings slack test
    """


@slack.command("set")
@click.option(
    "--webhook", "mode", flag_value="webhook", default=True,
    help="Read an incoming-webhook URL (posts to the channel it was made for). The default.",
)  # fmt: skip
@click.option(
    "--bot", "mode", flag_value="bot",
    help="Read a bot token (xoxb-...): posts to the channel each workflow names.",
)  # fmt: skip
@pass_session
async def slack_set(session: Session, mode: str) -> None:
    """Set how Oore posts to Slack; the URL or token is read from stdin.

    \b
    Example:
        oore settings slack set < webhook-url.txt
        oore settings slack set --bot          # asks for the token
    """
    secret = (await read_secret("Webhook URL" if mode == "webhook" else "Bot token")).strip()
    if not secret:
        raise invalid("nothing was given on stdin")
    field = "webhook_url" if mode == "webhook" else "token"
    async with session.api() as api:
        data = await api.json("PUT", SLACK, body={"mode": mode, field: secret})
    if session.json:
        return session.out.json(data)
    session.out.line(f"Slack is set up ({mode}); try it with `oore settings slack test`")


@slack.command("show")
@pass_session
async def slack_show(session: Session) -> None:
    """Show how Oore posts to Slack (never the URL or token).

    \b
    Example:
        oore settings slack show
    """
    async with session.api() as api:
        data = await api.get(SLACK)
    if session.json:
        return session.out.json(data)
    session.out.fields(
        [
            ("mode", data["mode"]),
            ("secret", _set(data["secret_set"])),
            ("updated", data["updated_at"]),
        ]
    )


@slack.command("clear")
@pass_session
async def slack_clear(session: Session) -> None:
    """Stop posting to Slack (deliveries already planned fail and can be resent later).

    \b
    Example:
        oore settings slack clear
    """
    await _clear(session, SLACK, "Slack")


@slack.command("test")
@click.option("--channel", help="Bot mode: the channel to post to, e.g. '#builds'.")
@pass_session
async def slack_test(session: Session, channel: str | None) -> None:
    """Post a sample build report to Slack now.

    \b
    Example:
        oore settings slack test
        oore settings slack test --channel '#builds'
    """
    body: dict[str, Any] = {"channel": channel} if channel else {}
    await _test(session, SLACK, body, "posted a test message to Slack")


@settings.group()
def smtp() -> None:
    """Email: the SMTP server Oore sends through.

    \b
    Example:
        oore settings smtp set --host smtp.example.com --from ci@example.com
        oore settings smtp test dev@example.com
    """


@smtp.command("set")
@click.option("--host", required=True, help="The SMTP server's host name.")
@click.option("--port", type=click.IntRange(1, 65535), default=587, show_default=True)
@click.option(
    "--security", type=click.Choice(["starttls", "tls", "none"]), default="starttls",
    show_default=True, help="starttls: upgrade after EHLO (587); tls: implicit TLS (465).",
)  # fmt: skip
@click.option("--username", help="Log in as this user; the password is read from stdin.")
@click.option("--from", "sender", required=True, help="The sender: ci@example.com.")
@click.option(
    "--keep-password",
    is_flag=True,
    help="Keep the stored password (no prompt); only while host, port, security and username "
    "stay the same.",
)
@pass_session
async def smtp_set(
    session: Session,
    host: str,
    port: int,
    security: str,
    username: str | None,
    sender: str,
    keep_password: bool,
) -> None:
    """Set the SMTP server; with --username, the password is read from stdin.

    \b
    Example:
        oore settings smtp set --host smtp.example.com --from ci@example.com \\
            --username ci < password.txt
    """
    body: dict[str, Any] = {"host": host, "port": port, "security": security, "from": sender}
    if username:
        body["username"] = username
        if not keep_password:
            password = await read_secret("Password")
            if not password:
                raise invalid("no password was given on stdin (or pass --keep-password)")
            body["password"] = password
    async with session.api() as api:
        data = await api.json("PUT", SMTP, body=body)
    if session.json:
        return session.out.json(data)
    session.out.line(f"email goes through {host}:{port}; try it with `oore settings smtp test`")


@smtp.command("show")
@pass_session
async def smtp_show(session: Session) -> None:
    """Show the SMTP server (never the password).

    \b
    Example:
        oore settings smtp show
    """
    async with session.api() as api:
        data = await api.get(SMTP)
    if session.json:
        return session.out.json(data)
    session.out.fields(
        [
            ("server", f"{data['host']}:{data['port']}"),
            ("security", data["security"]),
            ("username", data["username"] or "-"),
            ("from", data["from"]),
            ("password", _set(data["password_set"])),
            ("updated", data["updated_at"]),
        ]
    )


@smtp.command("clear")
@pass_session
async def smtp_clear(session: Session) -> None:
    """Stop sending email.

    \b
    Example:
        oore settings smtp clear
    """
    await _clear(session, SMTP, "SMTP")


@smtp.command("test")
@click.argument("recipients", nargs=-1, required=True)
@pass_session
async def smtp_test(session: Session, recipients: tuple[str, ...]) -> None:
    """Email a sample build report to RECIPIENTS now.

    \b
    Example:
        oore settings smtp test dev@example.com
    """
    await _test(session, SMTP, {"to": list(recipients)}, "sent a test mail")


async def _clear(session: Session, path: str, what: str) -> None:
    async with session.api() as api:
        await api.send("DELETE", path)
    if session.json:
        return session.out.json({"cleared": True})
    session.out.line(f"{what} settings removed")


async def _test(session: Session, path: str, body: dict[str, Any], done: str) -> None:
    async with session.api() as api:
        data = await api.json("POST", path + "/test", body=body)
    if session.json:
        return session.out.json(data)
    session.out.line(done)


def _set(flag: bool) -> str:
    return "set" if flag else "not set"


COMMANDS = (settings,)
