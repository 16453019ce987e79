"""Staging in-process: who may stage, what is stored, and what is refused (nothing changes)."""

from __future__ import annotations

import copy
import os
import re

import pytest
from sqlalchemy import update

from airlock.packages.models import Package
from tests.support.otp import enrol
from tests.support.packages import make_tarball, publish_body
from tests.support.staging import (
    STAGE_ID,
    add_token,
    auth,
    blob_files,
    package_count,
    signup,
    stage,
    staged_id,
    version_rows,
)


async def test_stage_answers_201_with_a_uuid_and_never_asks_for_a_code(client, app_ctx, clock):
    token = await signup(client, "alice")
    # Even an account with 2FA for writes stages without any one-time password.
    await enrol(client, token, clock.now())
    resp = await stage(client, token, "pkg-a", "1.0.0")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert re.match(STAGE_ID, body["stageId"])
    assert body["ok"] is True and "pkg-a@1.0.0" in body["message"]
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "staged")]


@pytest.mark.parametrize("permission", ["read-write", "stage-only"])
async def test_granular_and_stage_only_tokens_stage_without_a_code(
    client, app_ctx, clock, permission
):
    session = await signup(client, "alice")
    await enrol(client, session, clock.now())
    token = await add_token(app_ctx, "alice", permission=permission)
    resp = await stage(client, token, "pkg-a", "1.0.0")
    assert resp.status_code == 201, resp.text


async def test_read_only_token_cannot_stage_and_nothing_is_stored(client, app_ctx):
    await signup(client, "alice")
    token = await add_token(app_ctx, "alice", permission="read-only")
    resp = await stage(client, token, "pkg-a", "1.0.0")
    assert resp.status_code == 403
    assert "read-only" in resp.json()["error"]
    assert await version_rows(app_ctx) == []
    assert await package_count(app_ctx) == 0
    assert blob_files(app_ctx) == set()


async def test_anonymous_stage_is_401(client, app_ctx):
    resp = await stage(client, None, "pkg-a", "1.0.0")
    assert resp.status_code == 401
    assert await version_rows(app_ctx) == []


async def test_brand_new_name_is_reserved_for_the_stager_and_shows_nothing(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    assert (await stage(client, alice, "fresh", "1.0.0")).status_code == 201
    # Nothing public: no packument, no tarball.
    assert (await client.get("/fresh")).status_code == 404
    assert (await client.get("/fresh/-/fresh-1.0.0.tgz")).status_code == 404
    # Nobody else may stage or publish the name.
    resp = await stage(client, bob, "fresh", "2.0.0")
    assert resp.status_code == 403, resp.text
    # The refusal says the name is taken, and nothing about what is staged under it.
    assert "1.0.0" not in resp.text and "alice" not in resp.text
    resp = await client.put("/fresh", json=publish_body("fresh", "2.0.0"), headers=auth(bob))
    assert resp.status_code == 403, resp.text
    assert "1.0.0" not in resp.text and "alice" not in resp.text
    assert await version_rows(app_ctx) == [("fresh", "1.0.0", "staged")]
    # The stager may stage more versions of it.
    assert (await stage(client, alice, "fresh", "1.1.0")).status_code == 201


async def test_many_versions_of_one_package_can_be_staged_at_once(client, app_ctx):
    alice = await signup(client, "alice")
    ids = {await staged_id(client, alice, "pkg-a", f"1.{i}.0") for i in range(5)}
    assert len(ids) == 5
    assert [row[1] for row in await version_rows(app_ctx)] == [f"1.{i}.0" for i in range(5)]


async def test_restaging_a_staged_version_is_409_even_with_another_tag(client, app_ctx):
    alice = await signup(client, "alice")
    first = await staged_id(client, alice, "pkg-a", "1.0.0", tag="beta")
    resp = await stage(client, alice, "pkg-a", "1.0.0", tag="next")
    assert resp.status_code == 409
    assert first in resp.json()["error"]  # names the stage that holds the number
    # The staged tag did not change: no route changes it.
    view = await client.get(f"/-/stage/{first}", headers=auth(alice))
    assert view.json()["tag"] == "beta"
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "staged")]


async def test_staging_a_published_version_is_npms_403_as_for_publish(client, app_ctx):
    alice = await signup(client, "alice")
    resp = await client.put("/pkg-a", json=publish_body("pkg-a", "1.0.0"), headers=auth(alice))
    assert resp.status_code in (200, 201), resp.text
    staged = await stage(client, alice, "pkg-a", "1.0.0")
    published = await client.put("/pkg-a", json=publish_body("pkg-a", "1.0.0"), headers=auth(alice))
    assert staged.status_code == published.status_code == 403
    assert staged.json() == published.json()
    assert staged.json()["error"] == (
        "You cannot publish over the previously published versions: 1.0.0."
    )
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "published")]


async def test_npm_publish_of_a_staged_version_is_409_naming_the_stage(client, app_ctx):
    alice = await signup(client, "alice")
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0")
    resp = await client.put("/pkg-a", json=publish_body("pkg-a", "1.0.0"), headers=auth(alice))
    assert resp.status_code == 409
    assert stage_id in resp.json()["error"]
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "staged")]


def _bad_bodies() -> dict[str, object]:
    good = publish_body("pkg-a", "1.0.0")
    cases: dict[str, object] = {}

    def variant(label: str, change) -> None:  # type: ignore[no-untyped-def]
        body = copy.deepcopy(good)
        change(body)
        cases[label] = body

    variant("semver-range tag", lambda b: b.update({"dist-tags": {"^1.0.0": "1.0.0"}}))
    variant("version-like tag", lambda b: b.update({"dist-tags": {"1.2.3": "1.0.0"}}))
    variant("empty tag", lambda b: b.update({"dist-tags": {"": "1.0.0"}}))
    variant("no attachment", lambda b: b.pop("_attachments"))
    variant("name mismatch", lambda b: b.update({"name": "other"}))
    variant("bad version", lambda b: b.update({"versions": {"nope": b["versions"]["1.0.0"]}}))
    variant(
        "integrity mismatch",
        lambda b: b["versions"]["1.0.0"]["dist"].update({"integrity": "sha512-AAAA"}),
    )
    variant(
        "tarball for another version",
        lambda b: b["_attachments"]["pkg-a-1.0.0.tgz"].update(
            publish_body("pkg-a", "9.9.9", make_tarball("pkg-a", "9.9.9"))["_attachments"][
                "pkg-a-9.9.9.tgz"
            ]
        ),
    )
    variant("bad access", lambda b: b.update({"access": "secret"}))
    cases["not an object"] = ["nope"]
    return cases


@pytest.mark.parametrize("label", sorted(_bad_bodies()))
async def test_invalid_stage_bodies_are_4xx_and_change_nothing(client, app_ctx, label):
    alice = await signup(client, "alice")
    body = _bad_bodies()[label]
    resp = await client.post("/-/stage/package/pkg-a", json=body, headers=auth(alice))
    assert 400 <= resp.status_code < 500, (label, resp.status_code, resp.text)
    assert resp.json()["error"]
    assert await version_rows(app_ctx) == []
    assert await package_count(app_ctx) == 0
    assert blob_files(app_ctx) == set()


async def test_scoped_names_stage_in_every_spelling(client, app_ctx):
    alice = await signup(client, "alice")
    for i, path in enumerate(["@alice%2fpkg-s", "@alice%2Fpkg-s", "%40alice%2fpkg-s"]):
        body = publish_body("@alice/pkg-s", f"1.0.{i}", access="public")
        resp = await client.post(f"/-/stage/package/{path}", json=body, headers=auth(alice))
        assert resp.status_code == 201, (path, resp.text)
    assert len(await version_rows(app_ctx, "@alice/pkg-s")) == 3


async def test_a_package_requiring_2fa_for_writes_still_stages_without_a_code(
    client, app_ctx, clock
):
    session = await signup(client, "alice")
    await enrol(client, session, clock.now())
    clock.advance(30)
    await staged_id(client, session, "pkg-a", "1.0.0")
    async with app_ctx.db.write() as db:
        await db.execute(
            update(Package).where(Package.name == "pkg-a").values(mfa_policy="publish")
        )
    token = await add_token(app_ctx, "alice")
    # Publishing with that token is refused, staging is exactly what the policy leaves open.
    refused = await client.put("/pkg-a", json=publish_body("pkg-a", "1.1.0"), headers=auth(token))
    assert refused.status_code in (401, 403)
    resp = await stage(client, token, "pkg-a", "1.1.0")
    assert resp.status_code == 201, resp.text


async def test_a_tarball_over_the_size_limit_is_413_and_nothing_is_stored(client, app_ctx):
    alice = await signup(client, "alice")
    app_ctx.settings.max_tarball_bytes = 2048
    big = make_tarball("pkg-a", "1.0.0", files={"noise.bin": os.urandom(8192)})
    assert len(big) > 2048
    resp = await stage(client, alice, "pkg-a", "1.0.0", tarball=big)
    assert resp.status_code == 413
    assert await version_rows(app_ctx) == [] and blob_files(app_ctx) == set()
