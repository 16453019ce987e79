"""storage = "s3" against moto's S3 server: publish, install with npm, presigned redirects,
the collector, and S3 failures answered 503 with nothing half-written (issue #13.1)."""

from __future__ import annotations

import time

import httpx

from tests.support.packages import make_package_dir, make_tarball, publish_body
from tests.support.users import signup


def _s3_server(server_factory, moto, bucket: str | None = None, **extra: str):
    bucket = bucket or moto.create_bucket()
    env = {**moto.env(bucket, prefix="reg/"), **extra}
    return server_factory(env=env), bucket


def test_publish_and_install_with_s3_storage(server_factory, npm_factory, moto, tmp_path):
    server, bucket = _s3_server(server_factory, moto)
    alice = npm_factory(server, "alice", signup(server.url, "alice"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "s3-pkg", "1.0.0"))
    keys = moto.keys(bucket)
    assert len(keys) == 1 and next(iter(keys)).startswith("reg/tarballs/"), keys
    # Nothing went to the data folder.
    assert not list((server.data / "blobs").rglob("*.tgz"))
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "app", "version": "1.0.0"}')
    anon = npm_factory(server, "anon")
    anon.ok("install", "s3-pkg@1.0.0", cwd=app)
    assert (app / "node_modules/s3-pkg/package.json").exists()
    # The tarball streams back byte for byte.
    [stored] = keys
    body = moto.boto().get_object(Bucket=bucket, Key=stored)["Body"].read()
    assert httpx.get(f"{server.url}/s3-pkg/-/s3-pkg-1.0.0.tgz").content == body


def test_tarball_gets_can_redirect_to_presigned_urls(server_factory, npm_factory, moto, tmp_path):
    server, _bucket = _s3_server(server_factory, moto, AIRLOCK_S3_PRESIGN_SECONDS="60")
    token = signup(server.url, "alice")
    tarball = make_tarball("pre-pkg", "1.0.0")
    put = httpx.put(
        f"{server.url}/pre-pkg",
        json=publish_body("pre-pkg", "1.0.0", tarball),
        headers={"authorization": f"Bearer {token}"},
    )
    assert put.status_code == 201, put.text
    resp = httpx.get(f"{server.url}/pre-pkg/-/pre-pkg-1.0.0.tgz")
    assert resp.status_code == 307
    assert resp.headers["location"].startswith(moto.url)
    assert "X-Amz-Signature" in resp.headers["location"]
    assert httpx.get(resp.headers["location"]).content == tarball
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "app", "version": "1.0.0"}')
    npm_factory(server, "anon").ok("install", "pre-pkg@1.0.0", cwd=app)
    assert (app / "node_modules/pre-pkg/package.json").exists()


def test_a_missing_bucket_is_a_503_and_nothing_is_written(server_factory, npm_factory, moto):
    server, _ = _s3_server(server_factory, moto, bucket="no-such-bucket-here")
    token = signup(server.url, "alice")
    headers = {"authorization": f"Bearer {token}"}
    resp = httpx.put(
        f"{server.url}/lost-pkg", json=publish_body("lost-pkg", "1.0.0"), headers=headers
    )
    assert resp.status_code == 503, resp.text
    assert "Blob storage is unavailable" in resp.json()["error"]
    assert "bucket 'no-such-bucket-here' does not exist" in resp.json()["error"]
    ready = httpx.get(f"{server.url}/-/ready")
    assert ready.status_code == 503
    assert "bucket 'no-such-bucket-here' does not exist" in ready.json()["checks"]["blobs"]
    # No half-written state: no package, no version, the number is free.
    assert httpx.get(f"{server.url}/lost-pkg").status_code == 404
    staged = httpx.post(
        f"{server.url}/-/stage/package/lost-pkg",
        json=publish_body("lost-pkg", "1.0.0"),
        headers=headers,
    )
    assert staged.status_code == 503
    assert httpx.get(f"{server.url}/-/ping").status_code == 200
    # Once the bucket exists the same publish works.
    moto.create_bucket("no-such-bucket-here")
    resp = httpx.put(
        f"{server.url}/lost-pkg", json=publish_body("lost-pkg", "1.0.0"), headers=headers
    )
    assert resp.status_code == 201, resp.text


def test_an_unreachable_store_is_a_503_within_the_timeout(server_factory, moto):
    from tests.support.server import free_port

    env = {
        **moto.env("any"),
        "AIRLOCK_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AIRLOCK_S3_TIMEOUT_SECONDS": "2",
    }
    server = server_factory(env=env)
    token = signup(server.url, "alice")
    started = time.monotonic()
    resp = httpx.put(
        f"{server.url}/gone-pkg",
        json=publish_body("gone-pkg", "1.0.0"),
        headers={"authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert resp.status_code == 503, resp.text
    assert "could not connect to the S3 endpoint" in resp.json()["error"]
    assert time.monotonic() - started < 30
    assert httpx.get(f"{server.url}/gone-pkg").status_code == 404


def test_the_collector_removes_unused_objects_from_the_bucket(server_factory, moto):
    server, bucket = _s3_server(
        server_factory,
        moto,
        AIRLOCK_BLOB_GRACE_SECONDS="2",
        AIRLOCK_BLOB_SWEEP_SECONDS="0.3",
    )
    token = signup(server.url, "alice")
    headers = {"authorization": f"Bearer {token}"}
    assert (
        httpx.put(
            f"{server.url}/gc-pkg", json=publish_body("gc-pkg", "1.0.0"), headers=headers
        ).status_code
        == 201
    )
    other = make_tarball("gc-pkg", "1.0.0", files={"x.js": b"other bytes"})
    refused = httpx.put(
        f"{server.url}/gc-pkg", json=publish_body("gc-pkg", "1.0.0", other), headers=headers
    )
    assert refused.status_code == 403
    assert len(moto.keys(bucket)) == 2  # the refused upload's object, until the grace ends
    deadline = time.monotonic() + 20
    while len(moto.keys(bucket)) > 1 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert len(moto.keys(bucket)) == 1
    assert httpx.get(f"{server.url}/gc-pkg/-/gc-pkg-1.0.0.tgz").status_code == 200
