"""`oore settings slack|smtp` through the real `oore`, against a real daemon and a Slack-like
server and SMTP server on loopback: secrets go in on stdin and are never printed back."""

from __future__ import annotations

import httpx
import trio

from oore.cli.client.errors import ExitCode
from tests.cli.harness import Oore, one_line_error
from tests.fakes.slack import serve_slack
from tests.fakes.smtp import smtp_server

PASSWORD = "cli smtp password 42"


async def test_slack_is_set_from_stdin_shown_without_its_secret_tested_and_cleared(
    oore: Oore, api: httpx.AsyncClient, nursery: trio.Nursery
) -> None:
    slack = await nursery.start(serve_slack)
    empty = await oore("settings", "slack", "set", stdin="\n")
    assert empty.code == ExitCode.INVALID
    assert "nothing was given" in one_line_error(empty)
    done = await oore("settings", "slack", "set", stdin=slack.webhook_url + "\n")
    assert done.code == 0, done.err
    shown = await oore("settings", "slack", "show")
    assert "webhook" in shown.out
    assert "set" in shown.out
    as_json = await oore("--json", "settings", "slack", "show")
    assert as_json.json() == (await api.get("/api/settings/slack")).json()
    tested = await oore("settings", "slack", "test")
    assert tested.code == 0, tested.err
    assert len(slack.messages) == 1
    revoked = slack.webhook_url + "0"
    await oore("settings", "slack", "set", stdin=revoked + "\n")
    refused = await oore("settings", "slack", "test")
    assert refused.code != 0
    assert "HTTP 404 (no_service)" in one_line_error(refused)
    # (This daemon's OORE_SLACK_API_URL is Slack's own: a bot token is stored, not tried.)
    bot = await oore("settings", "slack", "set", "--bot", stdin=slack.bot_token + "\n")
    assert bot.code == 0, bot.err
    assert (await api.get("/api/settings/slack")).json()["mode"] == "bot"
    cleared = await oore("settings", "slack", "clear")
    assert cleared.code == 0, cleared.err
    gone = await oore("settings", "slack", "show")
    assert gone.code == ExitCode.NOT_FOUND
    for result in (empty, done, shown, as_json, tested, bot, refused, cleared, gone):
        for secret in (slack.webhook_secret, slack.bot_token):
            assert secret not in result.out + result.err


async def test_smtp_takes_the_password_from_stdin_and_sends_a_test_mail(
    oore: Oore, api: httpx.AsyncClient
) -> None:
    async with smtp_server() as smtp:
        server = ("--host", "127.0.0.1", "--port", str(smtp.port), "--security", "none")
        done = await oore("settings", "smtp", "set", *server, "--from", "ci@example.com")
        assert done.code == 0, done.err
        tested = await oore("settings", "smtp", "test", "dev@example.com")
        assert tested.code == 0, tested.err
        await smtp.wait_for(1)
    assert smtp.mails[0].rcpt_tos == ["dev@example.com"]
    with_user = await oore(
        "settings", "smtp", "set", *server, "--from", "ci@example.com", "--username", "ci",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert with_user.code == 0, with_user.err
    shown = await oore("settings", "smtp", "show")
    assert "ci@example.com" in shown.out
    assert "password" in shown.out
    stored = (await api.get("/api/settings/smtp")).json()
    assert stored["password_set"] is True
    assert stored["username"] == "ci"
    cleared = await oore("settings", "smtp", "clear")
    assert cleared.code == 0, cleared.err
    for result in (done, tested, with_user, shown, cleared):
        assert PASSWORD not in result.out + result.err
