"""Packuments and tarballs in-process: stored bytes, ETag/304, gzip, corgi, visibility."""

from __future__ import annotations

import gzip
import hashlib
import json

from sqlalchemy import select, update

from airlock.packages.models import Package
from tests.support.packages import integrity, make_tarball, publish_body
from tests.support.staging import auth, blob_files, signup, swept_blob_files, version_rows

CORGI = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"


async def publish(client, token, name, version, **kw):
    body = publish_body(name, version, **kw)
    resp = await client.put(f"/{name.replace('/', '%2f')}", json=body, headers=auth(token))
    assert resp.status_code == 201, resp.text
    return body


async def test_full_packument_has_the_npm_fields(client, app_ctx, clock):
    token = await signup(client, "alice")
    created = clock.now()
    await publish(client, token, "pkg-a", "1.0.0")
    clock.advance(60)
    await publish(client, token, "pkg-a", "1.1.0", tag="next")
    resp = await client.get("/pkg-a", headers={"accept": "application/json"})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["cache-control"] == "public, max-age=0"
    doc = resp.json()
    assert doc["_id"] == doc["name"] == "pkg-a"
    assert doc["_rev"].startswith("3-")
    assert doc["dist-tags"] == {"latest": "1.0.0", "next": "1.1.0"}
    assert doc["time"] == {
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:01:00.000Z",
        "1.0.0": "2026-01-01T00:00:00.000Z",
        "1.1.0": "2026-01-01T00:01:00.000Z",
    }
    assert created.year == 2026
    assert doc["maintainers"] == [{"name": "alice", "email": "alice@example.com"}]
    assert doc["users"] == {} and "readme" in doc
    v = doc["versions"]["1.0.0"]
    assert v["_npmUser"] == {"name": "alice", "email": "alice@example.com"}
    assert v["maintainers"] == doc["maintainers"]
    tarball = make_tarball("pkg-a", "1.0.0")
    assert v["dist"]["tarball"] == "http://127.0.0.1:4873/pkg-a/-/pkg-a-1.0.0.tgz"
    assert v["dist"]["fileCount"] == 2 and v["dist"]["unpackedSize"] > 0
    assert v["dist"]["integrity"].startswith("sha512-") and len(v["dist"]["shasum"]) == 40
    assert len(tarball) > 0


async def test_corgi_packument_is_abbreviated(client, app_ctx):
    token = await signup(client, "alice")
    await publish(client, token, "pkg-a", "1.0.0")
    resp = await client.get("/pkg-a", headers={"accept": CORGI})
    assert resp.headers["content-type"] == "application/vnd.npm.install-v1+json"
    doc = resp.json()
    assert set(doc) == {"name", "modified", "dist-tags", "versions"}
    version = doc["versions"]["1.0.0"]
    assert "dist" in version and "_npmUser" not in version and "maintainers" not in version


async def test_etag_revalidation_and_gzip(client, app_ctx):
    token = await signup(client, "alice")
    await publish(client, token, "pkg-a", "1.0.0")
    first = await client.get("/pkg-a", headers={"accept-encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"
    etag = first.headers["etag"]
    again = await client.get("/pkg-a", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    corgi = await client.get("/pkg-a", headers={"accept": CORGI})
    assert corgi.headers["etag"] != etag  # different representation, different validator
    assert (await client.get("/pkg-a", headers={"if-none-match": '"stale"'})).status_code == 200
    # A new version changes the ETag.
    await publish(client, token, "pkg-a", "1.1.0")
    assert (await client.get("/pkg-a", headers={"if-none-match": etag})).status_code == 200


async def test_get_serves_the_stored_bytes_and_never_rebuilds(client, app_ctx):
    token = await signup(client, "alice")
    await publish(client, token, "pkg-a", "1.0.0")
    marker = json.dumps({"name": "pkg-a", "marker": True}).encode()
    async with app_ctx.db.write() as session:
        await session.execute(
            update(Package)
            .where(Package.name == "pkg-a")
            .values(packument_full=marker, packument_full_gz=gzip.compress(marker))
        )
    assert (await client.get("/pkg-a")).json() == {"name": "pkg-a", "marker": True}
    plain = await client.get("/pkg-a", headers={"accept-encoding": "identity"})
    assert plain.content == marker


async def test_tarball_download_is_immutable_and_matches_integrity(client, app_ctx):
    token = await signup(client, "alice")
    body = await publish(client, token, "@alice/pkg-s", "1.0.0", access="public")
    dist = body["versions"]["1.0.0"]["dist"]
    for path in ("/@alice/pkg-s/-/pkg-s-1.0.0.tgz", "/@alice%2fpkg-s/-/pkg-s-1.0.0.tgz"):
        resp = await client.get(path)
        assert resp.status_code == 200
        assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert integrity(resp.content) == dist["integrity"]
        assert hashlib.sha1(resp.content).hexdigest() == dist["shasum"]
    assert (await client.get("/@alice/pkg-s/-/pkg-s-9.9.9.tgz")).status_code == 404
    assert (await client.get("/@alice/pkg-s/-/other-1.0.0.tgz")).status_code == 404


async def test_public_url_is_used_for_tarball_links(client, app_ctx):
    app_ctx.settings.public_url = "https://npm.example.com/registry"
    token = await signup(client, "alice")
    await publish(client, token, "pkg-a", "1.0.0")
    doc = (await client.get("/pkg-a")).json()
    assert doc["versions"]["1.0.0"]["dist"]["tarball"] == (
        "https://npm.example.com/registry/pkg-a/-/pkg-a-1.0.0.tgz"
    )


async def test_restricted_package_is_404_to_others_and_private_for_maintainers(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    await publish(client, alice, "@alice/sec", "1.0.0", access="restricted")
    for headers in ({}, auth(bob)):
        assert (await client.get("/@alice%2fsec", headers=headers)).status_code == 404
        tgz = await client.get("/@alice/sec/-/sec-1.0.0.tgz", headers=headers)
        assert tgz.status_code == 404
        assert (
            await client.get("/-/package/@alice%2fsec/dist-tags", headers=headers)
        ).status_code == 404
        assert (
            await client.get("/-/package/@alice%2fsec/visibility", headers=headers)
        ).status_code == 404
    # Writes by outsiders are 404 too: they may not learn the name exists.
    resp = await client.put(
        "/@alice%2fsec", json=publish_body("@alice/sec", "1.1.0"), headers=auth(bob)
    )
    assert resp.status_code == 404
    own = await client.get("/@alice%2fsec", headers=auth(alice))
    assert own.status_code == 200 and own.headers["cache-control"] == "private, max-age=0"
    tgz = await client.get("/@alice/sec/-/sec-1.0.0.tgz", headers=auth(alice))
    assert tgz.status_code == 200 and tgz.headers["cache-control"].startswith("private")


async def test_unscoped_packages_cannot_be_restricted(client, app_ctx):
    token = await signup(client, "alice")
    await publish(client, token, "pkg-a", "1.0.0")
    resp = await client.post(
        "/-/package/pkg-a/access", json={"access": "restricted"}, headers=auth(token)
    )
    assert resp.status_code == 400 and "Unscoped" in resp.json()["error"]


async def test_provenance_bundle_is_stored_and_advertised(client, app_ctx):
    token = await signup(client, "alice")
    body = publish_body("pkg-a", "1.0.0")
    bundle = {"mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2", "x": 1}
    text = json.dumps(bundle)
    body["_attachments"]["pkg-a-1.0.0.sigstore"] = {
        "content_type": bundle["mediaType"],
        "data": text,
        "length": len(text),
    }
    assert (await client.put("/pkg-a", json=body, headers=auth(token))).status_code == 201
    dist = (await client.get("/pkg-a")).json()["versions"]["1.0.0"]["dist"]
    assert dist["attestations"] == {
        "url": "http://127.0.0.1:4873/-/npm/v1/attestations/pkg-a@1.0.0",
        "provenance": {"predicateType": "https://slsa.dev/provenance/v1"},
    }
    att = (await client.get("/-/npm/v1/attestations/pkg-a@1.0.0")).json()
    assert att["attestations"][0]["bundle"] == bundle
    bad = publish_body("pkg-b", "1.0.0")
    bad["_attachments"]["pkg-b-1.0.0.sigstore"] = {"data": "not json", "length": 8}
    resp = await client.put("/pkg-b", json=bad, headers=auth(token))
    assert resp.status_code == 400 and "Sigstore" in resp.json()["error"]


async def test_publish_conflicts_name_the_reason(client, app_ctx):
    token = await signup(client, "alice")
    await publish(client, token, "pkg-a", "1.0.0")
    files_before = blob_files(app_ctx)
    other = make_tarball("pkg-a", "1.0.0", files={"other.js": b"2"})
    resp = await client.put(
        "/pkg-a", json=publish_body("pkg-a", "1.0.0", other), headers=auth(token)
    )
    assert resp.status_code == 403
    assert resp.json()["error"] == (
        "You cannot publish over the previously published versions: 1.0.0."
    )
    # The refused upload's blob is collected after the grace period; the published one stays.
    assert await swept_blob_files(app_ctx) == files_before

    staged = await client.post(
        "/-/stage/package/pkg-a", json=publish_body("pkg-a", "2.0.0"), headers=auth(token)
    )
    assert staged.status_code == 201, staged.text
    stage_id = staged.json()["stageId"]
    resp = await client.put("/pkg-a", json=publish_body("pkg-a", "2.0.0"), headers=auth(token))
    assert resp.status_code == 409
    assert f"stage {stage_id}" in resp.json()["error"]


async def test_unpublished_numbers_cannot_be_reused_and_blobs_are_deleted(client, app_ctx):
    token = await signup(client, "alice")
    await publish(client, token, "pkg-a", "1.0.0")
    await publish(client, token, "pkg-a", "1.1.0")
    assert len(blob_files(app_ctx)) == 2
    rev = (await client.get("/pkg-a")).json()["_rev"]
    resp = await client.delete("/pkg-a/-/pkg-a-1.1.0.tgz/-rev/0-stale", headers=auth(token))
    assert resp.status_code == 200
    assert len(await swept_blob_files(app_ctx)) == 1
    assert await version_rows(app_ctx) == [
        ("pkg-a", "1.0.0", "published"),
        ("pkg-a", "1.1.0", "unpublished"),
    ]
    resp = await client.put("/pkg-a", json=publish_body("pkg-a", "1.1.0"), headers=auth(token))
    assert resp.status_code == 403 and "cannot be reused" in resp.json()["error"]
    # A stale revision is refused (CouchDB semantics), the current one accepted.
    resp = await client.delete(f"/pkg-a/-rev/{rev}", headers=auth(token))
    assert resp.status_code == 409
    rev = (await client.get("/pkg-a")).json()["_rev"]
    assert (await client.delete(f"/pkg-a/-rev/{rev}", headers=auth(token))).status_code == 200
    assert (await client.get("/pkg-a")).status_code == 404
    assert await swept_blob_files(app_ctx) == set()
    async with app_ctx.db.read() as session:
        stored = await session.scalar(select(Package.packument_full).where(Package.name == "pkg-a"))
    assert stored is None


async def test_package_with_only_staged_versions_has_no_packument(client, app_ctx):
    token = await signup(client, "alice")
    resp = await client.post(
        "/-/stage/package/new-pkg", json=publish_body("new-pkg", "1.0.0"), headers=auth(token)
    )
    assert resp.status_code == 201, resp.text
    for accept in ("application/json", CORGI):
        missing = await client.get("/new-pkg", headers={"accept": accept, **auth(token)})
        assert missing.status_code == 404
        assert missing.json() == (await client.get("/never-existed")).json() | {
            "error": "Not found: new-pkg",
            "message": "Not found: new-pkg",
        }
    assert (await client.get("/new-pkg/-/new-pkg-1.0.0.tgz")).status_code == 404
    search = (await client.get("/-/v1/search", params={"text": "new-pkg"})).json()
    assert search["objects"] == [] and search["total"] == 0


async def test_changing_the_public_url_rebuilds_stored_packuments_once(client, app_ctx):
    from airlock.packages.refresh import refresh_packuments

    token = await signup(client, "alice")
    await publish(client, token, "pkg-a", "1.0.0")
    assert await refresh_packuments(app_ctx) == 0
    app_ctx.settings.public_url = "https://registry.example.org"
    assert await refresh_packuments(app_ctx) == 1
    tarball = (await client.get("/pkg-a")).json()["versions"]["1.0.0"]["dist"]["tarball"]
    assert tarball == "https://registry.example.org/pkg-a/-/pkg-a-1.0.0.tgz"
    assert await refresh_packuments(app_ctx) == 0


async def test_a_name_reserved_by_a_stage_is_invisible_to_outsiders(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    resp = await client.post(
        "/-/stage/package/new-pkg", json=publish_body("new-pkg", "1.0.0"), headers=auth(alice)
    )
    assert resp.status_code == 201, resp.text
    for path in ("dist-tags", "visibility", "collaborators"):
        for headers in ({}, auth(bob)):
            assert (
                await client.get(f"/-/package/new-pkg/{path}", headers=headers)
            ).status_code == 404
    own = await client.get("/-/package/new-pkg/collaborators", headers=auth(alice))
    assert own.status_code == 200 and own.json() == {"alice": "write"}


async def test_scoped_packages_are_private_unless_published_public(client, app_ctx):
    token = await signup(client, "alice")
    # npm sends access null without --access: scoped -> restricted (as npmjs), unscoped public.
    await publish(client, token, "@alice/quiet", "1.0.0")
    await publish(client, token, "@alice/loud", "1.0.0", access="public")
    await publish(client, token, "plain", "1.0.0")
    assert (await client.get("/@alice%2fquiet")).status_code == 404
    assert (await client.get("/@alice%2fquiet", headers=auth(token))).status_code == 200
    assert (await client.get("/@alice%2floud")).status_code == 200
    assert (await client.get("/plain")).status_code == 200
