"""Create accounts and tokens over the wire, the way `npm adduser` does."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx


def signup(
    base_url: str, name: str, password: str = "correct-horse-9", email: str | None = None
) -> str:
    """Create (or log in) `name` through the couch endpoint; returns the session token."""
    body = {
        "_id": f"org.couchdb.user:{name}",
        "name": name,
        "password": password,
        "email": email or f"{name}@example.com",
        "type": "user",
        "roles": [],
        "date": datetime.now(UTC).isoformat(),
    }
    resp = httpx.put(f"{base_url}/-/user/org.couchdb.user:{name}", json=body, timeout=30)
    assert resp.status_code in (200, 201), resp.text
    token: str = resp.json()["token"]
    return token
