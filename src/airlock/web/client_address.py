"""The client's address: the socket peer, unless the peer is a trusted proxy (setting
`trusted_proxies`); only then is X-Forwarded-For read, right to left, skipping further
trusted proxies. One function for the app (web.deps) and the read fast path."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

# The address reported when the server does not know the peer (a placeholder, never bound).
ANONYMOUS_IP = "0.0.0.0"  # noqa: S104


def resolve_client_ip(peer: str, forwarded_for: Iterable[str], proxies: list[str]) -> str:
    """`forwarded_for`: every X-Forwarded-For header value, in order."""
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in ",".join(forwarded_for).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, proxies):
            return hop if _is_ip(hop) else peer
    return peer


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _trusted(addr: str, proxies: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net) for net in proxies)
