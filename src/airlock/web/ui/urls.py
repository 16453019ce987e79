"""The web UI's address as a browser should use it."""

from __future__ import annotations

from urllib.parse import urlsplit

from airlock.settings import Settings
from airlock.web.ui.render import PREFIX

_LOOPBACK = {"127.0.0.1", "::1", "[::1]", "0.0.0.0"}  # noqa: S104 - compared, never bound


def browser_url(settings: Settings) -> str:
    """The web UI URL; on a laptop `localhost`, since WebAuthn (passkeys) refuses IP
    addresses as a relying-party id and plain http is a secure context only on localhost."""
    parts = urlsplit(settings.base_url)
    if parts.hostname in _LOOPBACK and settings.public_url is None:
        return f"{parts.scheme}://localhost:{parts.port or 80}{PREFIX}/"
    return f"{settings.base_url}{PREFIX}/"
