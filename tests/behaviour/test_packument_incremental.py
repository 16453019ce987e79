"""Publishing extends the stored packuments; the result is exactly a full rebuild's."""

from __future__ import annotations

import gzip
import json

from sqlalchemy import select

from airlock.packages.models import Package
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


async def _stored(app_ctx, name):
    """The stored documents, decoded (PostgreSQL's JSONB returns manifests with their keys
    reordered, so a rebuild from the rows may order keys differently than the first build);
    the ETag and _rev depend on that order, so they are compared only through the versions."""
    async with app_ctx.db.read() as session:
        row = (await session.execute(select(*_COLUMNS).where(Package.name == name))).one()
    full, abbrev, full_gz, abbrev_gz, _etag, rev_id, description = row
    assert gzip.decompress(full_gz) == full and gzip.decompress(abbrev_gz) == abbrev
    doc = json.loads(full)
    assert doc.pop("_rev") == rev_id
    return doc, json.loads(abbrev), rev_id.split("-")[0], description


async def _rebuilt(app_ctx, name):
    async with app_ctx.db.write() as session:
        package = (await session.execute(select(Package).where(Package.name == name))).scalar_one()
        await rebuild_packuments(app_ctx, session, package)
    return await _stored(app_ctx, name)


async def test_each_publish_extends_the_documents_exactly_as_a_rebuild(client, app_ctx, clock):
    token = await signup(client, "alice")
    steps = [("1.0.0", "latest"), ("1.1.0", "latest"), ("2.0.0-rc.1", "next"), ("1.2.0", "latest")]
    for version, tag in steps:
        clock.advance(1)  # distinct publish times: each version is the newest publish
        # The description comes from the tarball's package.json (the stored manifest is
        # the tarball's); the readme from the body.
        tarball = make_tarball("grow", version, {"description": f"release {version}"})
        body = publish_body("grow", version, tarball, tag=tag)
        body["versions"][version]["readme"] = f"# grow {version}"
        resp = await client.put("/grow", json=body, headers=auth(token))
        assert resp.status_code == 201, resp.text
        extended = await _stored(app_ctx, "grow")
        assert extended == await _rebuilt(app_ctx, "grow"), version
    doc = (await client.get("/grow")).json()
    assert list(doc["versions"]) == [v for v, _ in steps]
    assert doc["dist-tags"] == {"latest": "1.2.0", "next": "2.0.0-rc.1"}
    assert doc["readme"] == "# grow 1.2.0" and doc["description"] == "release 1.2.0"


async def test_a_prerelease_on_another_tag_keeps_the_latest_readme(client, app_ctx, clock):
    token = await signup(client, "alice")
    body = publish_body("keep", "1.0.0")
    body["versions"]["1.0.0"]["readme"] = "# stable"
    assert (await client.put("/keep", json=body, headers=auth(token))).status_code == 201
    clock.advance(1)
    body = publish_body("keep", "2.0.0-beta.1", tag="beta")
    body["versions"]["2.0.0-beta.1"]["readme"] = "# beta"
    assert (await client.put("/keep", json=body, headers=auth(token))).status_code == 201
    assert (await client.get("/keep")).json()["readme"] == "# stable"
    assert await _stored(app_ctx, "keep") == await _rebuilt(app_ctx, "keep")
