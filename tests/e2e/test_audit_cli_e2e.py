"""`airlock audit` against a live server's database."""

from __future__ import annotations

import json

import httpx

from tests.support.packages import publish_body
from tests.support.users import signup


def test_airlock_audit_lists_events_with_credentials(server):
    token = signup(server.url, "alice")
    resp = httpx.post(
        f"{server.url}/-/stage/package/pkg-c",
        json=publish_body("pkg-c", "1.0.0"),
        headers={"authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 201
    out = server.cli("audit", "--package", "pkg-c", "--json")
    assert out.returncode == 0, out.stderr
    [item] = json.loads(out.stdout)["items"]
    assert item["event"] == "package:version:staged" and item["actor"] == "alice"
    assert item["credential"]["kind"] == "session" and item["client"] == "127.0.0.1"
    table = server.cli("audit", "--event", "package:version:staged")
    assert table.returncode == 0 and "1 of 1 events" in table.stdout
    bad = server.cli("audit", "--until", "soon")
    assert bad.returncode == 1 and "ISO 8601" in bad.stdout
