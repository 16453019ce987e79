"""E-mail to a package's maintainers over SMTP (optional: set `smtp_host`)."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import aiosmtplib

from airlock.settings import Settings

SMTP_TIMEOUT_SECONDS = 20.0


def message(settings: Settings, to: str, payload: dict[str, Any], link: str) -> EmailMessage:
    target = "@".join(x for x in (payload.get("package"), payload.get("version")) if x)
    event = str(payload.get("event", ""))
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = f"[Airlock] {target}: {event}"
    lines = [
        f"{event} on {target or 'the registry'}",
        "",
        f"actor:   {payload.get('actor') or '-'}",
        f"time:    {payload.get('time')}",
    ]
    if payload.get("stageId"):
        lines.append(f"stage:   {payload['stageId']}")
    lines += ["", link, "", "You receive this because you maintain this package on Airlock."]
    msg.set_content("\n".join(lines))
    return msg


async def send(settings: Settings, to: str, payload: dict[str, Any], link: str) -> None:
    assert settings.smtp_host is not None
    await aiosmtplib.send(
        message(settings, to, payload, link),
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        start_tls=settings.smtp_starttls,
        timeout=SMTP_TIMEOUT_SECONDS,
    )
