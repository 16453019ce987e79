"""E-mail to maintainers through a real SMTP server on 127.0.0.1 (aiosmtpd)."""

from __future__ import annotations

import email
from typing import Any

from aiosmtpd.controller import Controller

from airlock.notifications import delivery
from airlock.settings import Settings
from tests.support.server import free_port
from tests.support.staging import signup, staged_id


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


async def test_maintainers_get_an_email_per_event(client, app_ctx):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app_ctx.settings = Settings(
            **{
                **app_ctx.settings.model_dump(),
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "smtp_from": "registry@example.com",
            }
        )
        alice = await signup(client, "alice")
        stage_id = await staged_id(client, alice, "pkg-m", "1.0.0")
        await delivery.run_once(app_ctx)
        await delivery.run_once(app_ctx)  # nothing twice
    finally:
        controller.stop()
    [(to, msg)] = inbox.messages
    assert to == ["alice@example.com"]
    assert msg["From"] == "registry@example.com"
    assert msg["Subject"] == "[Airlock] pkg-m@1.0.0: package:version:staged"
    text = msg.get_payload(decode=True).decode()
    assert stage_id in text and "actor:   alice" in text
