"""Tarballs from the read fast path (web/fastpath.py): the same bytes and rules as the app.

The fast path keeps, per package, the published version -> blob map; these check that it
never shows a staged version, picks up a new version at once, and keeps restricted
tarballs from outsiders (404, not 403), with the exact bytes and length of the file.
"""

from __future__ import annotations

from tests.support.packages import make_tarball, publish_body
from tests.support.staging import auth, escaped, signup, staged_id


async def _publish(client, token, name, version, access=None, tarball=None):
    body = publish_body(name, version, tarball, access=access)
    resp = await client.put(f"/{escaped(name)}", json=body, headers=auth(token))
    assert resp.status_code == 201, resp.text


async def test_bytes_length_and_cache_headers(client):
    alice = await signup(client, "alice")
    tarball = make_tarball("plain", "1.0.0", files={"big.txt": b"x" * 50_000})
    await _publish(client, alice, "plain", "1.0.0", tarball=tarball)
    for _ in range(2):  # the first request loads the version map, the second uses it
        resp = await client.get("/plain/-/plain-1.0.0.tgz", headers=auth(alice))
        assert resp.status_code == 200
        assert resp.content == tarball
        assert resp.headers["content-length"] == str(len(tarball))
        assert resp.headers["content-type"] == "application/octet-stream"
        assert resp.headers["cache-control"].startswith("public, ")
    head = await client.head("/plain/-/plain-1.0.0.tgz")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(tarball))
    assert head.content == b""


async def test_staged_versions_stay_invisible_after_the_map_is_cached(client):
    alice = await signup(client, "alice")
    await _publish(client, alice, "mixed", "1.0.0")
    assert (await client.get("/mixed/-/mixed-1.0.0.tgz")).status_code == 200
    await staged_id(client, alice, "mixed", "2.0.0")
    for token in (alice, None):
        headers = auth(token) if token else {}
        resp = await client.get("/mixed/-/mixed-2.0.0.tgz", headers=headers)
        assert resp.status_code == 404
        assert "error" in resp.json()
    assert (await client.get("/mixed/-/mixed-1.0.0.tgz")).status_code == 200


async def test_a_new_version_is_served_at_once(client):
    alice = await signup(client, "alice")
    await _publish(client, alice, "grows", "1.0.0")
    assert (await client.get("/grows/-/grows-1.0.0.tgz")).status_code == 200
    assert (await client.get("/grows/-/grows-1.1.0.tgz")).status_code == 404
    tarball = make_tarball("grows", "1.1.0")
    await _publish(client, alice, "grows", "1.1.0", tarball=tarball)
    resp = await client.get("/grows/-/grows-1.1.0.tgz")
    assert resp.status_code == 200
    assert resp.content == tarball


async def test_restricted_tarballs_are_404_for_outsiders(client):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    await _publish(client, alice, "@alice/inner", "1.0.0", access="restricted")
    path = "/@alice/inner/-/inner-1.0.0.tgz"
    own = await client.get(path, headers=auth(alice))
    assert own.status_code == 200
    assert own.headers["cache-control"].startswith("private, ")
    # After the owner's read filled the cache: still hidden from everyone else.
    for headers in (auth(bob), {}):
        resp = await client.get(path, headers=headers)
        assert resp.status_code == 404
        assert resp.content != own.content
