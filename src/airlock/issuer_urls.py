"""Issuer URL rules, shared by settings validation and the OIDC exchange (stdlib only: a
foundation module, so settings need not import the oidc domain)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

PROVIDERS = ("github", "gitlab", "circleci")


def check_issuer_url(url: str) -> str:
    """Raise ValueError unless `url` is https, or http on a loopback host. Returns it trimmed."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"OIDC issuer {url!r} must be an https:// URL")
    if parts.query or parts.fragment:
        raise ValueError(f"OIDC issuer {url!r} must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"OIDC issuer {url!r} uses http://, which is only allowed on a loopback address; "
            "use https://"
        )
    return url.rstrip("/")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_provider(name: str) -> str:
    if name not in PROVIDERS:
        raise ValueError(
            f"OIDC issuer name {name!r} must start with a provider: {', '.join(PROVIDERS)}"
        )
    return name
