"""Publishing splices the new version into the stored packuments; the bytes are exactly a
full rebuild's, on both databases, whatever changed before (deprecate, dist-tags,
unpublish) and whatever the manifests contain. Large documents are stored without their
gzip form and served intact (plain, gzip, abbreviated, ETag/304)."""

from __future__ import annotations

import gzip
import json

from sqlalchemy import select

from airlock.packages.models import Package
from airlock.packages.packument import GZIP_STORED_MAX
from airlock.packages.service import rebuild_packuments
from tests.support.packages import make_tarball, publish_body
from tests.support.staging import auth, signup

_COLUMNS = (
    Package.packument_full,
    Package.packument_abbrev,
    Package.packument_full_gz,
    Package.packument_abbrev_gz,
    Package.etag,
    Package.rev_id,
    Package.description,
)
CORGI = "application/vnd.npm.install-v1+json"


async def _stored(app_ctx, name):
    """Every stored column of the documents, as bytes (compared exactly)."""
    async with app_ctx.db.read() as session:
        row = (await session.execute(select(*_COLUMNS).where(Package.name == name))).one()
    full, abbrev, full_gz, abbrev_gz, _etag, rev_id, _description = row
    for plain, packed in ((full, full_gz), (abbrev, abbrev_gz)):
        if len(plain) > GZIP_STORED_MAX:
            assert packed is None  # compressed by readers, not by the publish
        else:
            assert gzip.decompress(packed) == plain
    assert json.loads(full)["_rev"] == rev_id
    return tuple(row)


async def _rebuilt(app_ctx, name):
    async with app_ctx.db.write() as session:
        package = (await session.execute(select(Package).where(Package.name == name))).scalar_one()
        await rebuild_packuments(app_ctx, session, package)
    return await _stored(app_ctx, name)


async def _publish(client, token, name, version, tag="latest", readme=None, **manifest):
    tarball = make_tarball(name, version, manifest)
    body = publish_body(name, version, tarball, tag=tag)
    if readme is not None:
        body["versions"][version]["readme"] = readme
    resp = await client.put(f"/{name}", json=body, headers=auth(token))
    assert resp.status_code == 201, resp.text


async def _same_as_rebuild(app_ctx, name, label):
    extended = await _stored(app_ctx, name)
    assert extended == await _rebuilt(app_ctx, name), label


# Keys in an order PostgreSQL's JSONB does not keep (it sorts by length, then bytes).
_NESTED = {
    "dependencies": {"zeta-long-name": "^1.0.0", "a": "2.x", "mid": "*"},
    "repository": {"url": "git+https://example.test/x.git", "type": "git"},
    "scripts": {"test": "node t", "build": "tsc", "a": "b"},
}


async def test_each_publish_extends_the_documents_exactly_as_a_rebuild(client, app_ctx, clock):
    token = await signup(client, "alice")
    steps = [("1.0.0", "latest"), ("1.1.0", "latest"), ("2.0.0-rc.1", "next"), ("1.2.0", "latest")]
    for version, tag in steps:
        clock.advance(1)  # distinct publish times: each version is the newest publish
        # The description comes from the tarball's package.json (the stored manifest is
        # the tarball's); the readme from the body.
        await _publish(
            client,
            token,
            "grow",
            version,
            tag,
            readme=f"# grow {version}",
            description=f"release {version}",
            **_NESTED,
        )
        await _same_as_rebuild(app_ctx, "grow", version)
    doc = (await client.get("/grow")).json()
    assert list(doc["versions"]) == [v for v, _ in steps]
    assert doc["dist-tags"] == {"latest": "1.2.0", "next": "2.0.0-rc.1"}
    assert doc["readme"] == "# grow 1.2.0" and doc["description"] == "release 1.2.0"
    assert doc["versions"]["1.2.0"]["dependencies"] == _NESTED["dependencies"]


async def test_a_prerelease_on_another_tag_keeps_the_latest_readme(client, app_ctx, clock):
    token = await signup(client, "alice")
    await _publish(client, token, "keep", "1.0.0", readme="# stable")
    clock.advance(1)
    await _publish(client, token, "keep", "2.0.0-beta.1", "beta", readme="# beta")
    assert (await client.get("/keep")).json()["readme"] == "# stable"
    await _same_as_rebuild(app_ctx, "keep", "beta")


async def test_publishes_after_deprecate_tags_and_unpublish_match_a_rebuild(client, app_ctx, clock):
    token = await signup(client, "alice")
    for i in range(3):
        clock.advance(1)
        await _publish(client, token, "life", f"1.0.{i}", readme=f"# {i}", **_NESTED)
    # Deprecate one version (a full rebuild), then publish (spliced).
    current = (await client.get("/life")).json()
    current["versions"]["1.0.0"]["deprecated"] = "use 1.0.2"
    assert (await client.put("/life", json=current, headers=auth(token))).status_code == 201
    clock.advance(1)
    await _publish(client, token, "life", "1.0.3")
    await _same_as_rebuild(app_ctx, "life", "after deprecate")
    assert (await client.get("/life")).json()["versions"]["1.0.0"]["deprecated"] == "use 1.0.2"
    # Point latest back at an older version, then publish on another tag: the top-level
    # fields stay those of the tagged latest.
    resp = await client.put("/-/package/life/dist-tags/latest", json="1.0.1", headers=auth(token))
    assert resp.status_code in (200, 201), resp.text
    clock.advance(1)
    await _publish(client, token, "life", "1.1.0-beta.0", "beta", readme="# beta")
    await _same_as_rebuild(app_ctx, "life", "after dist-tag")
    assert (await client.get("/life")).json()["readme"] == "# 1"
    # Unpublish one version, then publish again.
    resp = await client.delete("/life/-/life-1.0.3.tgz/-rev/0-x", headers=auth(token))
    assert resp.status_code == 200, resp.text
    clock.advance(1)
    await _publish(client, token, "life", "1.2.0", readme="# 1.2")
    await _same_as_rebuild(app_ctx, "life", "after unpublish")
    doc = (await client.get("/life")).json()
    assert "1.0.3" not in doc["versions"] and "1.0.3" not in doc["time"]
    assert list(doc["versions"]) == ["1.0.0", "1.0.1", "1.0.2", "1.1.0-beta.0", "1.2.0"]
    assert doc["readme"] == "# 1.2" and doc["dist-tags"]["latest"] == "1.2.0"


async def test_manifest_fields_that_look_like_the_layout_do_not_fool_the_splice(
    client, app_ctx, clock
):
    token = await signup(client, "alice")
    # Fields after the time map (repository, bugs) that contain the markers the splice
    # looks for, and a version manifest with its own nested "versions"/"time" objects.
    tricky = {
        "repository": {
            "type": "git",
            "time": {"created": "2999-01-01T00:00:00.000Z"},
            "maintainers": [{"name": "alice", "email": ""}],
            "users": {},
        },
        "bugs": {"x": {"versions": {"9.9.9": {}}, "time": {"created": "x"}}},
        "description": '","time":{"created":"',
    }
    for i in range(3):
        clock.advance(1)
        await _publish(
            client, token, "tricky", f"1.0.{i}", readme='"},"time":{"created":"', **tricky
        )
        await _same_as_rebuild(app_ctx, "tricky", f"1.0.{i}")
    clock.advance(1)
    await _publish(client, token, "tricky", "2.0.0-rc.0", "next")
    await _same_as_rebuild(app_ctx, "tricky", "on next")
    doc = (await client.get("/tricky")).json()
    assert list(doc["versions"]) == ["1.0.0", "1.0.1", "1.0.2", "2.0.0-rc.0"]
    assert set(doc["time"]) == {"created", "modified", *doc["versions"]}
    assert doc["repository"] == tricky["repository"]


async def test_a_large_document_is_served_intact_plain_gzip_and_abbreviated(client, app_ctx, clock):
    token = await signup(client, "alice")
    notes = "lorem ipsum dolor sit amet " * 400  # ~10 KB per version
    count = 1 + GZIP_STORED_MAX // len(notes)
    for i in range(count):
        clock.advance(1)
        await _publish(client, token, "large", f"1.0.{i}", readme="# large", notes=notes)
    await _same_as_rebuild(app_ctx, "large", "large")
    async with app_ctx.db.read() as session:
        full, abbrev, etag = (
            await session.execute(
                select(Package.packument_full, Package.packument_abbrev, Package.etag).where(
                    Package.name == "large"
                )
            )
        ).one()
    assert len(full) > GZIP_STORED_MAX
    for accept, stored, tag in (("application/json", full, f'"{etag}"'), (CORGI, abbrev, None)):
        for encoding in ("gzip", "identity"):
            # Twice: the first gzip read compresses, the second is served from the cache.
            for _ in range(2):
                headers = {"accept": accept, "accept-encoding": encoding}
                resp = await client.get("/large", headers=headers)
                assert resp.status_code == 200
                assert resp.content == stored  # httpx undoes the gzip encoding
                assert resp.headers.get("content-encoding") == (
                    "gzip" if encoding == "gzip" else None
                )
                assert resp.headers["etag"] == (tag or f'"{etag}-c"')
                again = await client.get(
                    "/large", headers={**headers, "if-none-match": resp.headers["etag"]}
                )
                assert again.status_code == 304 and again.content == b""
    # The slow path (a query string skips the fast path) sends the plain bytes.
    resp = await client.get("/large?write=true", headers={"accept-encoding": "gzip"})
    assert resp.status_code == 200 and resp.content == full
    doc = json.loads(full)
    assert len(doc["versions"]) == count and doc["versions"]["1.0.0"]["notes"] == notes
    # One more publish replaces the cached forms at once (this instance took the write).
    clock.advance(1)
    await _publish(client, token, "large", "2.0.0", notes=notes)
    for encoding in ("gzip", "identity"):
        resp = await client.get("/large", headers={"accept-encoding": encoding})
        assert resp.json()["dist-tags"]["latest"] == "2.0.0"
        assert resp.headers["etag"] != f'"{etag}"'
    await _same_as_rebuild(app_ctx, "large", "after one more")
