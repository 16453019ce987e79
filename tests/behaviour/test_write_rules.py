"""One write path for publish and stage (issue #8 point 14), whole-name matching (15), NUL
characters (19), bounded offsets (10) and the reliability review's D3-D5, in-process."""

from __future__ import annotations

import base64

import pytest

from tests.support.packages import make_tarball, publish_body
from tests.support.staging import auth, signup, stage, swept_blob_files, version_rows


async def _publish(client, token: str, name: str, version: str):
    body = publish_body(name, version)
    return await client.put(f"/{name.replace('/', '%2f')}", json=body, headers=auth(token))


async def _both(client, token: str, version: str):
    staged = await stage(client, token, "pkg-a", version)
    published = await _publish(client, token, "pkg-a", version)
    return staged, published


async def test_a_taken_number_gets_one_answer_from_publish_and_stage(client, app_ctx):
    alice = await signup(client, "alice")
    assert (await _publish(client, alice, "pkg-a", "1.0.0")).status_code == 201
    staged, published = await _both(client, alice, "1.0.0")
    assert staged.status_code == published.status_code == 403
    assert staged.json() == published.json()
    assert (
        "You cannot publish over the previously published versions: 1.0.0"
        in (staged.json()["error"])
    )
    # A staged number: 409 from both, naming the stage.
    first = await stage(client, alice, "pkg-a", "2.0.0")
    stage_id = first.json()["stageId"]
    staged, published = await _both(client, alice, "2.0.0")
    assert staged.status_code == published.status_code == 409
    assert staged.json() == published.json() and stage_id in staged.json()["error"]
    assert len(await swept_blob_files(app_ctx)) == 2  # the refused writes left no blob behind


@pytest.mark.parametrize("taken_as", ["published", "staged", "unpublished"])
async def test_build_metadata_does_not_make_a_new_number(client, app_ctx, taken_as):
    alice = await signup(client, "alice")
    if taken_as == "staged":
        assert (await stage(client, alice, "pkg-a", "1.0.0")).status_code == 201
    else:
        assert (await _publish(client, alice, "pkg-a", "0.9.0")).status_code == 201
        assert (await _publish(client, alice, "pkg-a", "1.0.0")).status_code == 201
    if taken_as == "unpublished":
        resp = await client.delete("/pkg-a/-/pkg-a-1.0.0.tgz/-rev/1", headers=auth(alice))
        assert resp.status_code == 200, resp.text
    before = await version_rows(app_ctx)
    for version in ("1.0.0+x", "1.0.0+ci.7"):
        staged, published = await _both(client, alice, version)
        wanted = 409 if taken_as == "staged" else 403
        assert staged.status_code == published.status_code == wanted, staged.text
        assert "1.0.0" in staged.json()["error"] and "semver" in staged.json()["error"]
    assert await version_rows(app_ctx) == before


async def test_a_number_with_build_metadata_takes_the_plain_one(client, app_ctx):
    alice = await signup(client, "alice")
    assert (await _publish(client, alice, "pkg-a", "1.0.0+build.1")).status_code == 201
    staged, published = await _both(client, alice, "1.0.0")
    assert staged.status_code == published.status_code == 403
    assert "1.0.0+build.1" in staged.json()["error"]


@pytest.mark.parametrize(
    "path", ["/pkg-a%0A", "/@alice%0A%2fpkg-a", "/pkg%09a", "/@alice%2fpkg-a%0A", "/pkg-a%7F"]
)
async def test_names_are_matched_whole_and_refuse_control_characters(client, app_ctx, path):
    alice = await signup(client, "alice")
    name = path[1:].replace("%0A", "\n").replace("%09", "\t").replace("%7F", "\x7f")
    name = name.replace("%2f", "/")
    body = publish_body(name, "1.0.0", make_tarball(name, "1.0.0"))
    resp = await client.put(path, json=body, headers=auth(alice))
    assert resp.status_code == 400, resp.text
    assert "Invalid package name" in resp.json()["error"]
    resp = await client.post(f"/-/stage/package{path}", json=body, headers=auth(alice))
    assert resp.status_code == 400 and "Invalid package name" in resp.json()["error"]
    assert await version_rows(app_ctx) == []


@pytest.mark.parametrize("tag", ["beta%0A", "be%09ta", "beta%0D"])
async def test_dist_tags_are_matched_whole(client, app_ctx, tag):
    alice = await signup(client, "alice")
    assert (await _publish(client, alice, "pkg-a", "1.0.0")).status_code == 201
    resp = await client.put(f"/-/package/pkg-a/dist-tags/{tag}", json="1.0.0", headers=auth(alice))
    assert resp.status_code == 400, resp.text
    assert "tag" in resp.json()["error"]
    tags = (await client.get("/-/package/pkg-a/dist-tags")).json()
    assert tags == {"latest": "1.0.0"}


NUL_READS = [
    "/%00",
    "/a%00b",
    "/-/user/%00",
    "/-/package/a%00/dist-tags",
    "/-/package/a%00/collaborators",
    "/-/package/a%00/version/1.0.0/status",
    "/-/v1/search?text=%00",
]


@pytest.mark.parametrize("path", NUL_READS)
async def test_nul_in_urls_is_a_400_on_every_database(client, path):
    resp = await client.get(path)
    assert resp.status_code in (400, 404), resp.text
    assert resp.json()["error"]
    assert (await client.get("/-/ping")).status_code == 200


async def test_nul_in_a_signed_in_query_basic_name_and_adduser_is_a_400(client, app_ctx):
    alice = await signup(client, "alice")
    resp = await client.get("/-/stage?package=a%00", headers=auth(alice))
    assert resp.status_code == 400 and "NUL" in resp.json()["error"]
    basic = base64.b64encode(b"a\x00b:pw").decode()
    resp = await client.get("/-/whoami", headers={"authorization": f"Basic {basic}"})
    assert resp.status_code in (400, 401) and resp.json()["error"]
    for body in (
        {"name": "a\x00b", "password": "correct-horse-9", "email": "a@example.com"},
        {"name": "carol", "password": "correct-horse-9", "email": "x\x00@example.com"},
    ):
        url_name = str(body["name"]).replace("\x00", "%00")
        resp = await client.put(f"/-/user/org.couchdb.user:{url_name}", json=body)
        assert resp.status_code == 400, resp.text
    resp = await client.put(
        "/-/user/org.couchdb.user:carol",
        json={"name": "carol", "password": "correct-horse-9", "email": "carol@example.com"},
    )
    assert resp.status_code == 201  # the NUL attempt stored nothing


@pytest.mark.parametrize("where", ["body readme", "tarball description", "tarball key"])
@pytest.mark.parametrize("route", ["publish", "stage"])
async def test_nul_in_a_manifest_is_a_400_and_stores_nothing(client, app_ctx, where, route):
    alice = await signup(client, "alice")
    extra = {"description": "a\x00b"} if where == "tarball description" else {}
    if where == "tarball key":
        extra = {"x\x00": 1}
    body = publish_body("pkg-a", "1.0.0", make_tarball("pkg-a", "1.0.0", extra))
    if where == "body readme":
        body["versions"]["1.0.0"]["readme"] = "nul \x00 here"
    if route == "publish":
        resp = await client.put("/pkg-a", json=body, headers=auth(alice))
    else:
        resp = await stage(client, alice, "pkg-a", "1.0.0", body=body)
    assert resp.status_code == 400, resp.text
    assert "NUL" in resp.json()["error"]
    assert await version_rows(app_ctx) == [] and await swept_blob_files(app_ctx) == set()
    # Text that merely shows the escape is fine.
    body = publish_body("pkg-a", "1.0.0")
    body["versions"]["1.0.0"]["readme"] = "JSON writes NUL as \\u0000"
    assert (await client.put("/pkg-a", json=body, headers=auth(alice))).status_code == 201
    assert (await client.get("/pkg-a")).json()["readme"] == "JSON writes NUL as \\u0000"


@pytest.mark.parametrize(
    "query", ["from=9223372036854775808", "from=25292549517485755334656", "from=1000001"]
)
async def test_search_offsets_out_of_range_are_a_400(client, query):
    resp = await client.get(f"/-/v1/search?text=a&{query}")
    assert resp.status_code == 400 and "from" in resp.json()["error"]
    assert (await client.get("/-/v1/search?text=a&from=1000000")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/@/-/x.tgz"), ("DELETE", "/@/-/x.tgz/-rev/1"), ("GET", "/%40/-/%C3%8F")],
)
async def test_an_empty_scope_in_a_tarball_path_is_a_4xx(client, method, path):
    # D5: IndexError in unscoped("@") was a 500, anonymously.
    resp = await client.request(method, path)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["error"]
