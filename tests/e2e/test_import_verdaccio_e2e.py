"""`airlock import verdaccio` on a storage folder written by a real Verdaccio 6."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.packages import make_package_dir
from tests.support.users import signup
from tests.support.verdaccio_server import Verdaccio

PACKAGES = [
    ("plain-lib", "1.0.0"),
    ("plain-lib", "1.1.0"),
    ("plain-lib", "2.0.0-beta.1"),
    ("@team/scoped", "0.1.0"),
    ("old-thing", "1.0.0"),
]


@pytest.fixture
def verdaccio_folder(tmp_path: Path, npm_factory) -> Path:
    """Publish through a real Verdaccio, then stop it: its folder is the import source."""
    folder = tmp_path / "verdaccio"
    srv = Verdaccio(folder).start()
    try:
        pub = npm_factory(srv, "vpub", signup(srv.url, "vpub", password="verdaccio-pass-1"))
        for name, version in PACKAGES:
            tag = ["--tag", "next"] if "-" in version else []
            pub.ok(
                "publish",
                "--access",
                "public",
                *tag,
                cwd=make_package_dir(tmp_path / "src", name, version),
            )
        pub.ok("deprecate", "old-thing@1.0.0", "use plain-lib instead")
        for name, version in PACKAGES:
            resp = httpx.get(f"{srv.url}/{name.replace('/', '%2f')}", timeout=30)
            assert version in resp.json()["versions"]
    finally:
        srv.stop()
    return folder


def test_import_then_install_gives_identical_tarballs(
    verdaccio_folder, server_factory, npm_factory, tmp_path
):
    srv = server_factory()
    # Verdaccio 6 records no owners in its files: --owner names one.
    first = srv.cli("import", "verdaccio", str(verdaccio_folder), "--owner", "vpub")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "users created: 1 vpub" in first.stdout
    assert "versions imported: 5" in first.stdout and "problems: 0" in first.stdout
    again = srv.cli("import", "verdaccio", str(verdaccio_folder), "--owner", "vpub")
    assert again.returncode == 0 and "versions imported: 0" in again.stdout
    assert "versions already present: 5" in again.stdout and "users created: 0" in again.stdout

    http = srv.client()
    doc = http.get("/plain-lib").json()
    assert doc["dist-tags"] == {"latest": "1.1.0", "next": "2.0.0-beta.1"}
    assert set(doc["versions"]) == {"1.0.0", "1.1.0", "2.0.0-beta.1"}
    source = json.loads((verdaccio_folder / "storage" / "plain-lib" / "package.json").read_text())
    assert doc["time"]["1.0.0"][:19] == source["time"]["1.0.0"][:19]
    assert [m["name"] for m in doc["maintainers"]] == ["vpub"]
    assert http.get("/old-thing").json()["versions"]["1.0.0"]["deprecated"] == (
        "use plain-lib instead"
    )
    for name, version in PACKAGES:
        base = name.rsplit("/", 1)[-1]
        original = (verdaccio_folder / "storage" / name / f"{base}-{version}.tgz").read_bytes()
        served = http.get(f"/{name}/-/{base}-{version}.tgz")
        assert served.status_code == 200 and served.content == original

    # The imported bcrypt hash logs in; the user owns the imported packages.
    vpub = npm_factory(srv, "vpub", signup(srv.url, "vpub", password="verdaccio-pass-1"))
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0"}))
    vpub.ok("install", "plain-lib", "@team/scoped", cwd=app)
    lock = json.loads((app / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/plain-lib"]["version"] == "1.1.0"
    assert "vpub" in vpub.ok("owner", "ls", "plain-lib").stdout
    vpub.ok("publish", cwd=make_package_dir(tmp_path / "new", "plain-lib", "1.2.0"))


def test_a_broken_folder_gives_a_report_not_a_traceback(server_factory, tmp_path):
    srv = server_factory()
    broken = tmp_path / "broken"
    (broken / "storage" / "bad-json").mkdir(parents=True)
    (broken / "storage" / "bad-json" / "package.json").write_text("{ not json")
    (broken / "storage" / "no-tarball").mkdir()
    (broken / "storage" / "no-tarball" / "package.json").write_text(
        json.dumps(
            {
                "name": "no-tarball",
                "versions": {
                    "1.0.0": {
                        "name": "no-tarball",
                        "version": "1.0.0",
                        "dist": {
                            "tarball": "http://x/no-tarball/-/no-tarball-1.0.0.tgz",
                            "shasum": "0" * 40,
                        },
                    }
                },
                "dist-tags": {"latest": "1.0.0"},
            }
        )
    )
    (broken / "htpasswd").write_text("garbage line without colon\nok-user:{SHA}abc=:autocreated\n")
    result = srv.cli("import", "verdaccio", str(broken))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "bad-json" in result.stdout and "no-tarball@1.0.0: tarball" in result.stdout
    assert "reset needed): 1 ok-user" in result.stdout
    assert srv.client().get("/no-tarball").status_code == 404
    missing = srv.cli("import", "verdaccio", str(tmp_path / "does-not-exist"))
    assert missing.returncode == 1 and "is not a folder" in missing.stdout
