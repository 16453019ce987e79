"""What a version is comes from its tarball, not from the JSON around it (issue #8 point 1),
read with bounded work (points 9, 10, 18; reliability review D2, D6)."""

from __future__ import annotations

import gzip
import io
import tarfile
from typing import Any

import pytest

from tests.support.otp import enrol
from tests.support.packages import make_tarball, publish_body
from tests.support.staging import (
    auth,
    blob_files,
    package_count,
    signup,
    stage,
    staged_id,
    version_rows,
)

CORGI = "application/vnd.npm.install-v1+json"
HOOK = "node -e \"require('fs').writeFileSync('PWNED','ran')\""


def _lying_body(name: str, version: str, tarball: bytes, **claims: Any) -> dict[str, Any]:
    """A publish body whose manifest says whatever `claims` say, around `tarball`."""
    body = publish_body(name, version, tarball)
    body["versions"][version].update(claims)
    return body


def _tar(
    entries: list[tuple[tarfile.TarInfo, bytes | None]], fmt: int = tarfile.GNU_FORMAT
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file(path: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(path)
    info.size = len(data)
    return info, data


def _package_json(name: str = "pkg-a", version: str = "1.0.0") -> tuple[tarfile.TarInfo, bytes]:
    return _file("package/package.json", f'{{"name":"{name}","version":"{version}"}}'.encode())


async def test_a_body_hiding_a_postinstall_is_corrected_from_the_tarball(client, app_ctx):
    alice = await signup(client, "alice")
    tarball = make_tarball(
        "pkg-a",
        "1.0.0",
        {
            "scripts": {"postinstall": HOOK, "test": "true"},
            "dependencies": {"left-pad": "*"},
            "optionalDependencies": {"fsevents": "^2"},
            "os": ["linux"],
            "cpu": ["x64"],
            "engines": {"node": ">=20"},
            "bin": "cli.js",
            "dist": {"tarball": "http://evil.example/x.tgz"},
            "_npmUser": {"name": "mallory"},
            "hasInstallScript": False,
        },
    )
    body = _lying_body(
        "pkg-a", "1.0.0", tarball, scripts={}, dependencies={}, hasInstallScript=False
    )
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0", body=body)
    view = (await client.get(f"/-/stage/{stage_id}", headers=auth(alice))).json()
    assert view["installScripts"] == f"postinstall: {HOOK} (new)"
    assert view["newDependencies"] == "fsevents@^2, left-pad@*"
    _, recovery = await enrol(client, alice, app_ctx.clock.now())
    approve = await client.post(
        f"/-/stage/{stage_id}/approve", headers=auth(alice, otp=recovery[0])
    )
    assert approve.status_code == 201, approve.text
    full = (await client.get("/pkg-a")).json()["versions"]["1.0.0"]
    assert full["scripts"] == {"postinstall": HOOK, "test": "true"}
    assert full["dependencies"] == {"left-pad": "*"}
    assert full["optionalDependencies"] == {"fsevents": "^2"}
    assert (full["os"], full["cpu"], full["engines"]) == (["linux"], ["x64"], {"node": ">=20"})
    assert full["bin"] == {"pkg-a": "cli.js"}  # npm's normalisation of a string bin
    assert full["dist"]["tarball"] == "http://127.0.0.1:4873/pkg-a/-/pkg-a-1.0.0.tgz"
    assert full["_npmUser"]["name"] == "alice"
    abbrev = (await client.get("/pkg-a", headers={"accept": CORGI})).json()["versions"]["1.0.0"]
    assert abbrev["hasInstallScript"] is True
    assert abbrev["dependencies"] == {"left-pad": "*"} and abbrev["bin"] == {"pkg-a": "cli.js"}


async def test_a_binding_gyp_alone_is_an_install_script(client):
    alice = await signup(client, "alice")
    gyp = b"{'targets': [{'target_name': 'x', 'sources': ['<!(node -e \"1\")']}]}"
    tarball = make_tarball("pkg-a", "1.0.0", files={"binding.gyp": gyp})
    stage_id = await staged_id(client, alice, "pkg-a", "1.0.0", tarball=tarball)
    view = (await client.get(f"/-/stage/{stage_id}", headers=auth(alice))).json()
    assert view["installScripts"] == "install: node-gyp rebuild (new)"
    resp = await client.put(
        "/pkg-b",
        json=publish_body(
            "pkg-b", "1.0.0", make_tarball("pkg-b", "1.0.0", files={"binding.gyp": gyp})
        ),
        headers=auth(alice),
    )
    assert resp.status_code == 201, resp.text
    full = (await client.get("/pkg-b")).json()["versions"]["1.0.0"]
    assert full["scripts"] == {"install": "node-gyp rebuild"} and full["gypfile"] is True
    abbrev = (await client.get("/pkg-b", headers={"accept": CORGI})).json()["versions"]["1.0.0"]
    assert abbrev["hasInstallScript"] is True


async def test_a_claimed_install_script_without_one_is_dropped(client):
    alice = await signup(client, "alice")
    body = _lying_body(
        "pkg-a",
        "1.0.0",
        make_tarball(
            "pkg-a",
            "1.0.0",
            {"directories": {"bin": "./bin"}},
            files={
                "bin/tool": b"#!/usr/bin/env node\n",
                "bin/sub/no": b"",
                "npm-shrinkwrap.json": b"{}",
            },
        ),
        hasInstallScript=True,
        scripts={"postinstall": "harmless"},
        readme="# pkg-a",
    )
    assert (await client.put("/pkg-a", json=body, headers=auth(alice))).status_code == 201
    full = (await client.get("/pkg-a")).json()
    version = full["versions"]["1.0.0"]
    assert "scripts" not in version and "hasInstallScript" not in version
    assert version["bin"] == {"tool": "bin/tool"}  # directories.bin, as npm links it
    assert version["_hasShrinkwrap"] is True
    assert full["readme"] == "# pkg-a"  # descriptive fields still come from the body


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _with_tarball(data: bytes) -> dict[str, Any]:
    body = publish_body("pkg-a", "1.0.0", data)
    return body


def _raw_package_json(raw: bytes) -> bytes:
    return _tar([_file("package/package.json", raw)])


def _deep_package_json(depth: int) -> bytes:
    return _raw_package_json(
        b'{"name":"pkg-a","version":"1.0.0","deep":' + b"[" * depth + b"1" + b"]" * depth + b"}"
    )


def _long_name(size: int) -> bytes:
    info = tarfile.TarInfo("package/" + "a" * size)
    info.size = 0
    return _tar([_package_json(), (info, b"")], tarfile.GNU_FORMAT)


def _member_of_type(kind: bytes) -> bytes:
    info = tarfile.TarInfo("package/odd")
    info.type = kind
    info.size = 0
    return _tar([_package_json(), (info, None)])


def _hard_link() -> bytes:
    info = tarfile.TarInfo("package/link")
    info.type = tarfile.LNKTYPE
    info.linkname = "package/package.json"
    return _tar([_package_json(), (info, None)])


def _zeros_member(size: int) -> bytes:
    """A tarball with one member of `size` zero bytes, compressed as it is written."""
    header = tarfile.TarInfo("package/zeros.bin")
    header.size = size
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as gz:
        meta, data = _package_json()
        gz.write(meta.tobuf(format=tarfile.GNU_FORMAT) + data + bytes(512 - len(data) % 512))
        gz.write(header.tobuf(format=tarfile.GNU_FORMAT))
        chunk = bytes(1024 * 1024)
        left = size
        while left > 0:
            gz.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)
        gz.write(bytes((512 - size % 512) % 512) + bytes(1024))
    return raw.getvalue()


BAD_TARBALLS = {
    "package.json nested 1,000 deep (D6)": (lambda: _deep_package_json(1000), 400, "levels"),
    "package.json nested 100,000 deep": (lambda: _deep_package_json(100_000), 400, "JSON"),
    "package.json nested 300 deep (D2)": (lambda: _deep_package_json(300), 400, "levels"),
    "GNU long name of 1 MiB": (lambda: _long_name(1024 * 1024), 400, "long-name"),
    "unknown member type": (lambda: _member_of_type(b"Q"), 400, "type"),
    "hard link": (_hard_link, 400, "type"),
    "member outside the package": (
        lambda: _tar([_package_json(), _file("package/../../etc/x", b"1")]),
        400,
        "outside",
    ),
    "two package.json files": (
        lambda: _tar([_package_json(), _file("other/package.json", b"{}")]),
        400,
        "exactly one package.json",
    ),
    "package.json too large": (
        lambda: _raw_package_json(
            b'{"name":"pkg-a","version":"1.0.0","x":"' + b"a" * 1_100_000 + b'"}'
        ),
        400,
        "at most",
    ),
    "unpacks past the limit": (lambda: _zeros_member(300 * 1024 * 1024), 413, "unpacks"),
}


async def _assert_nothing_stored(client, app_ctx) -> None:
    assert await version_rows(app_ctx) == []
    assert await package_count(app_ctx) == 0
    assert blob_files(app_ctx) == set()
    assert (await client.get("/-/ping")).status_code == 200


@pytest.mark.parametrize("case", list(BAD_TARBALLS))
@pytest.mark.parametrize("route", ["publish", "stage"])
async def test_hostile_tarballs_are_refused_on_publish_and_stage(client, app_ctx, case, route):
    alice = await signup(client, "alice")
    make, status, wanted = BAD_TARBALLS[case]
    body = _with_tarball(make())
    if route == "publish":
        resp = await client.put("/pkg-a", json=body, headers=auth(alice))
    else:
        resp = await stage(client, alice, "pkg-a", "1.0.0", body=body)
    assert resp.status_code == status, resp.text
    assert wanted in resp.json()["error"]
    await _assert_nothing_stored(client, app_ctx)


async def test_a_deep_manifest_cannot_be_staged_so_no_stage_is_unapprovable(client, app_ctx):
    # D2: a 300-deep manifest used to stage (201) and then fail every approval (500).
    alice = await signup(client, "alice")
    deep = make_tarball("pkg-a", "1.0.0", {"deep": _deep(300)})
    resp = await stage(client, alice, "pkg-a", "1.0.0", tarball=deep)
    assert resp.status_code == 400 and "levels" in resp.json()["error"]
    await _assert_nothing_stored(client, app_ctx)
    ok = make_tarball("pkg-a", "1.0.0", {"deep": _deep(60)})
    assert (await stage(client, alice, "pkg-a", "1.0.0", tarball=ok)).status_code == 201


async def test_a_deep_provenance_bundle_is_a_400(client, app_ctx):
    alice = await signup(client, "alice")
    body = publish_body("pkg-a", "1.0.0")
    text = "[" * 200_000 + "]" * 200_000
    body["_attachments"]["pkg-a-1.0.0.sigstore"] = {"data": text, "length": len(text)}
    resp = await client.put("/pkg-a", json=body, headers=auth(alice))
    assert resp.status_code == 400 and "provenance" in resp.json()["error"]
    await _assert_nothing_stored(client, app_ctx)


async def test_a_manifest_past_the_size_limit_is_413(client, app_ctx):
    alice = await signup(client, "alice")
    app_ctx.settings.max_manifest_bytes = 4096
    body = _lying_body("pkg-a", "1.0.0", make_tarball("pkg-a", "1.0.0"), readme="x" * 5000)
    resp = await client.put("/pkg-a", json=body, headers=auth(alice))
    assert resp.status_code == 413 and "manifest" in resp.json()["error"]
    await _assert_nothing_stored(client, app_ctx)


async def test_versions_per_package_are_capped(client, app_ctx):
    alice = await signup(client, "alice")
    app_ctx.settings.max_versions_per_package = 2
    for version in ("1.0.0", "1.0.1"):
        resp = await client.put("/pkg-a", json=publish_body("pkg-a", version), headers=auth(alice))
        assert resp.status_code == 201, resp.text
    third = await stage(client, alice, "pkg-a", "1.0.2")
    assert third.status_code == 403 and "most one package may have" in third.json()["error"]
    assert len(await version_rows(app_ctx)) == 2


async def test_strangers_are_refused_before_their_body_is_parsed(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    resp = await client.put("/pkg-a", json=publish_body("pkg-a", "1.0.0"), headers=auth(alice))
    assert resp.status_code == 201
    # Not JSON at all: the answer is the permission refusal, so nothing was parsed.
    garbage = {**auth(bob), "content-type": "application/json"}
    resp = await client.put("/pkg-a", content=b"[" * 100_000, headers=garbage)
    assert resp.status_code == 403 and "permission" in resp.json()["error"]
    resp = await client.post("/-/stage/package/pkg-a", content=b"[" * 100_000, headers=garbage)
    assert resp.status_code == 403 and "permission" in resp.json()["error"]
    # A star is still fine for anyone who can read the package.
    star = await client.put(
        "/pkg-a", json={"_id": "pkg-a", "users": {"bob": True}}, headers=auth(bob)
    )
    assert star.status_code == 200
    assert await version_rows(app_ctx) == [("pkg-a", "1.0.0", "published")]
