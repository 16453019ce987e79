"""Every malformed publish gets a 4xx with {"error"}, stores nothing, and the server goes on."""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import io
import os
import tarfile
from typing import Any

import pytest

from tests.support.packages import integrity, make_tarball, publish_body
from tests.support.staging import auth, blob_files, package_count, signup, version_rows


def _retarball(body: dict[str, Any], data: bytes, *, fix_digests: bool = True) -> None:
    version = next(iter(body["versions"]))
    att = next(iter(body["_attachments"].values()))
    att["data"] = base64.b64encode(data).decode()
    att["length"] = len(data)
    if fix_digests:
        dist = body["versions"][version]["dist"]
        dist["integrity"] = integrity(data)
        dist["shasum"] = hashlib.sha1(data).hexdigest()


def _plain_tar(name: str, version: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = f'{{"name": "{name}", "version": "{version}"}}'.encode()
        info = tarfile.TarInfo("package/package.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _no_attachment(b: dict[str, Any]) -> None:
    del b["_attachments"]


def _two_versions(b: dict[str, Any]) -> None:
    b["versions"]["1.0.1"] = copy.deepcopy(b["versions"]["1.0.0"])


def _bad_base64(b: dict[str, Any]) -> None:
    b["_attachments"]["pkg-a-1.0.0.tgz"]["data"] = "!!!not base64!!!"


def _length(b: dict[str, Any]) -> None:
    b["_attachments"]["pkg-a-1.0.0.tgz"]["length"] += 1


def _integrity(b: dict[str, Any]) -> None:
    b["versions"]["1.0.0"]["dist"]["integrity"] = integrity(b"other bytes")


def _shasum(b: dict[str, Any]) -> None:
    b["versions"]["1.0.0"]["dist"]["shasum"] = "0" * 40


def _non_ascii_shasum(b: dict[str, Any]) -> None:
    b["versions"]["1.0.0"]["dist"]["shasum"] = "é" * 40


def _non_ascii_integrity(b: dict[str, Any]) -> None:
    b["versions"]["1.0.0"]["dist"]["integrity"] = "sha512-é"


def _tar_name(b: dict[str, Any]) -> None:
    _retarball(b, make_tarball("other-name", "1.0.0"))


def _tar_version(b: dict[str, Any]) -> None:
    _retarball(b, make_tarball("pkg-a", "9.9.9"))


def _not_gzip(b: dict[str, Any]) -> None:
    _retarball(b, b"this is not a gzip tar at all")


def _plain_tar_body(b: dict[str, Any]) -> None:
    _retarball(b, _plain_tar("pkg-a", "1.0.0"))


def _gzip_not_tar(b: dict[str, Any]) -> None:
    _retarball(b, gzip.compress(b"just some text, no tar inside" * 20))


def _no_package_json(b: dict[str, Any]) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("package/index.js")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"1"))
    _retarball(b, buf.getvalue())


def _manifest_mismatch(b: dict[str, Any]) -> None:
    b["versions"]["1.0.0"]["version"] = "1.0.1"


def _body_name(b: dict[str, Any]) -> None:
    b["name"] = "pkg-b"


def _range_tag(b: dict[str, Any]) -> None:
    b["dist-tags"] = {"^1.0": "1.0.0"}


def _unscoped_restricted(b: dict[str, Any]) -> None:
    b["access"] = "restricted"


def _extra_attachment(b: dict[str, Any]) -> None:
    b["_attachments"]["evil.sh"] = {"data": "ZWNobw==", "length": 4}


CASES = {
    "missing attachment": (_no_attachment, "no tarball attachment"),
    "two versions": (_two_versions, "exactly one version"),
    "undecodable attachment": (_bad_base64, "base64"),
    "length mismatch": (_length, "length"),
    "integrity mismatch": (_integrity, "integrity"),
    "shasum mismatch": (_shasum, "shasum"),
    "non-ASCII shasum": (_non_ascii_shasum, "shasum"),
    "non-ASCII integrity": (_non_ascii_integrity, "integrity"),
    "tarball name differs": (_tar_name, "other-name@1.0.0"),
    "tarball version differs": (_tar_version, "pkg-a@9.9.9"),
    "not gzip": (_not_gzip, "gzip"),
    "tar without gzip": (_plain_tar_body, "gzip"),
    "gzip without tar": (_gzip_not_tar, "tar"),
    "no package.json": (_no_package_json, "package/package.json"),
    "manifest version differs": (_manifest_mismatch, "manifest"),
    "body name differs": (_body_name, "does not match"),
    "range-like tag": (_range_tag, "semver"),
    "restricted unscoped": (_unscoped_restricted, "Unscoped"),
    "unexpected attachment": (_extra_attachment, "Unexpected attachment"),
}


async def _assert_nothing_stored(client, app_ctx) -> None:
    assert await version_rows(app_ctx) == []
    assert await package_count(app_ctx) == 0
    assert blob_files(app_ctx) == set()
    assert (await client.get("/-/ping")).status_code == 200


@pytest.mark.parametrize("case", list(CASES))
async def test_publish_refuses_bad_bodies_and_stores_nothing(client, app_ctx, case):
    token = await signup(client, "alice")
    body = publish_body("pkg-a", "1.0.0")
    mutate, wanted = CASES[case]
    mutate(body)
    resp = await client.put("/pkg-a", json=body, headers=auth(token))
    assert resp.status_code == 400, resp.text
    assert wanted in resp.json()["error"]
    await _assert_nothing_stored(client, app_ctx)


async def test_publish_refuses_malformed_json(client, app_ctx):
    token = await signup(client, "alice")
    headers = {**auth(token), "content-type": "application/json"}
    resp = await client.put("/pkg-a", content=b'{"name": "pkg-a", ', headers=headers)
    assert resp.status_code == 400 and "not valid JSON" in resp.json()["error"]
    resp = await client.put("/pkg-a", content=b"[1, 2]", headers=headers)
    assert resp.status_code == 400 and "JSON object" in resp.json()["error"]
    await _assert_nothing_stored(client, app_ctx)


@pytest.mark.parametrize(
    "name", ["UPPER", "a" * 215, ".hidden", "_under", "bad~name", "@scope/.x", "node_modules"]
)
async def test_publish_refuses_invalid_names(client, app_ctx, name):
    token = await signup(client, "alice")
    body = publish_body(name, "1.0.0")
    resp = await client.put(f"/{name.replace('/', '%2f')}", json=body, headers=auth(token))
    assert resp.status_code == 400, resp.text
    assert "Invalid package name" in resp.json()["error"]
    await _assert_nothing_stored(client, app_ctx)


@pytest.mark.parametrize("path", ["/..%2fx", "/@scope%2f", "/@%2fx", "/%40%2fx"])
async def test_publish_to_malformed_name_paths_is_a_4xx(client, app_ctx, path):
    token = await signup(client, "alice")
    resp = await client.put(path, json=publish_body("x", "1.0.0"), headers=auth(token))
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["error"]
    await _assert_nothing_stored(client, app_ctx)


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "01.0.0", "latest", "1.0.0.0"])
async def test_publish_refuses_invalid_semver(client, app_ctx, version):
    token = await signup(client, "alice")
    body = publish_body("pkg-a", "1.0.0")
    body["versions"] = {version: {**body["versions"]["1.0.0"], "version": version}}
    body["dist-tags"] = {"latest": version}
    resp = await client.put("/pkg-a", json=body, headers=auth(token))
    assert resp.status_code == 400 and "semver" in resp.json()["error"]
    await _assert_nothing_stored(client, app_ctx)


async def test_publish_over_the_size_limit_is_413(client, app_ctx):
    token = await signup(client, "alice")
    app_ctx.settings.max_tarball_bytes = 2000
    big = make_tarball("pkg-a", "1.0.0", files={"blob.bin": os.urandom(5000)})
    resp = await client.put("/pkg-a", json=publish_body("pkg-a", "1.0.0", big), headers=auth(token))
    assert resp.status_code == 413 and "limit" in resp.json()["error"]
    # A body far beyond the limit is refused before it is read in full.
    huge = b"x" * (app_ctx.settings.max_tarball_bytes * 2 + 9 * 1024 * 1024)
    resp = await client.put("/pkg-a", content=huge, headers=auth(token))
    assert resp.status_code == 413
    await _assert_nothing_stored(client, app_ctx)


async def test_publish_needs_a_valid_token(client, app_ctx):
    await signup(client, "alice")
    body = publish_body("pkg-a", "1.0.0")
    resp = await client.put("/pkg-a", json=body)
    assert resp.status_code == 401 and resp.json()["error"]
    resp = await client.put("/pkg-a", json=body, headers=auth("npm_unknown_token"))
    assert resp.status_code == 401 and resp.headers["www-authenticate"].startswith("Bearer")
    await _assert_nothing_stored(client, app_ctx)


async def test_revoked_token_cannot_publish(client, app_ctx):
    token = await signup(client, "alice")
    assert (await client.delete(f"/-/user/token/{token}", headers=auth(token))).status_code == 200
    resp = await client.put("/pkg-a", json=publish_body("pkg-a", "1.0.0"), headers=auth(token))
    assert resp.status_code == 401 and "revoked" in resp.json()["error"]
    await _assert_nothing_stored(client, app_ctx)


async def test_unknown_routes_and_methods_answer_json_errors(client):
    resp = await client.get("/-/no/such/route")
    assert resp.status_code == 404 and resp.json()["error"]
    resp = await client.patch("/pkg-a")
    assert resp.status_code == 405 and resp.json()["error"]
    resp = await client.get("/pkg-a")
    assert resp.status_code == 404 and resp.json()["error"] == "Not found: pkg-a"
