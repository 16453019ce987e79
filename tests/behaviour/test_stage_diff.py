"""`GET /-/stage/{id}/diff`: files added, removed, renamed and changed, with limits (in-process)."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from airlock.stage import diff, tarscan
from tests.support.packages import make_tarball, publish_body
from tests.support.staging import auth, set_maintainer, signup, staged_id


async def publish(client, token, name, version, tarball):
    body = publish_body(name, version, tarball)
    resp = await client.put(f"/{name}", json=body, headers=auth(token))
    assert resp.status_code in (200, 201), resp.text


BEFORE = {
    "lib/a.js": b"line 1\nline 2\nline 3\n",
    "lib/old-name.js": b"exports.same = true;\n",
    "gone.txt": b"bye\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(200),
}
AFTER = {
    "lib/a.js": b"line 1\nline 2 changed\nline 3\n",
    "lib/new-name.js": b"exports.same = true;\n",
    "new.js": b"console.log('new');\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x01" + bytes(300),
}


async def test_diff_lists_changes_against_the_tagged_version(client):
    alice = await signup(client, "alice")
    await publish(client, alice, "pkg-d", "1.0.0", make_tarball("pkg-d", "1.0.0", files=BEFORE))
    stage = await staged_id(
        client, alice, "pkg-d", "1.1.0", tarball=make_tarball("pkg-d", "1.1.0", files=AFTER)
    )
    resp = await client.get(f"/-/stage/{stage}/diff", headers=auth(alice))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["comparedTo"] == "1.0.0" and body["truncated"] is False
    files = {f["path"]: f for f in body["files"]}
    assert files["lib/a.js"]["status"] == "changed"
    assert "-line 2\n+line 2 changed\n" in files["lib/a.js"]["diff"]
    assert files["lib/a.js"]["diff"].startswith("--- a/lib/a.js\n+++ b/lib/a.js\n")
    assert files["lib/new-name.js"]["status"] == "renamed"
    assert files["lib/new-name.js"]["from"] == "lib/old-name.js"
    assert files["gone.txt"]["status"] == "removed" and files["gone.txt"]["oldSize"] == 4
    assert (
        files["new.js"]["status"] == "added" and "+console.log('new');" in files["new.js"]["diff"]
    )
    assert files["logo.png"]["binary"] is True and "diff" not in files["logo.png"]
    assert files["logo.png"]["oldSize"] == 210 and files["logo.png"]["newSize"] == 310
    assert body["files"][0]["path"] == "package.json"
    assert body["summary"] == {"added": 1, "removed": 1, "renamed": 1, "changed": 3, "files": 6}
    assert body["cached"] is False
    again = (await client.get(f"/-/stage/{stage}/diff", headers=auth(alice))).json()
    assert again["cached"] is True and again["files"] == body["files"]


async def test_against_picks_a_published_version_and_refuses_others(client):
    alice = await signup(client, "alice")
    await publish(client, alice, "pkg-d", "1.0.0", make_tarball("pkg-d", "1.0.0", files=BEFORE))
    await publish(client, alice, "pkg-d", "1.0.1", make_tarball("pkg-d", "1.0.1", files=AFTER))
    stage = await staged_id(
        client, alice, "pkg-d", "1.1.0", tarball=make_tarball("pkg-d", "1.1.0", files=AFTER)
    )
    default = (await client.get(f"/-/stage/{stage}/diff", headers=auth(alice))).json()
    assert default["comparedTo"] == "1.0.1"
    chosen = (await client.get(f"/-/stage/{stage}/diff?against=1.0.0", headers=auth(alice))).json()
    assert chosen["comparedTo"] == "1.0.0" and chosen["summary"]["changed"] == 3
    other = await staged_id(client, alice, "pkg-d", "1.2.0")
    for bad in ("9.9.9", "1.2.0"):  # absent, and staged (not published)
        resp = await client.get(f"/-/stage/{stage}/diff?against={bad}", headers=auth(alice))
        assert resp.status_code == 404 and "not a published version" in resp.json()["error"]
    assert other


async def test_new_package_diff_lists_everything_added(client):
    alice = await signup(client, "alice")
    stage = await staged_id(client, alice, "pkg-n", "1.0.0")
    body = (await client.get(f"/-/stage/{stage}/diff", headers=auth(alice))).json()
    assert body["comparedTo"] is None
    assert {f["status"] for f in body["files"]} == {"added"}


async def test_same_access_rule_as_the_stage(client, app_ctx):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    stage = await staged_id(client, alice, "pkg-d", "1.0.0")
    for path in (f"/-/stage/{stage}/diff", f"/-/airlock/v1/stage/{stage}/signals"):
        assert (await client.get(path, headers=auth(bob))).status_code == 404
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=auth(alice))).status_code == 200
    await set_maintainer(app_ctx, "pkg-d", "bob", True)
    assert (await client.get(f"/-/stage/{stage}/diff", headers=auth(bob))).status_code == 200
    assert (await client.get("/-/stage/nope/diff", headers=auth(alice))).status_code == 400


def _big_tarball(path: Path, version: str, files: int, size: int, seed: int, big: int = 0) -> None:
    """A gzip tar written member by member (never whole in memory)."""
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w|") as tar,
    ):
        pkg = f'{{"name":"big","version":"{version}"}}'.encode()
        info = tarfile.TarInfo("package/package.json")
        info.size = len(pkg)
        tar.addfile(info, io.BytesIO(pkg))
        for i in range(files + big):
            if i >= files:
                size = 2 * 1024 * 1024
            line = f"// file {i} seed {seed} ".encode() + os.urandom(8).hex().encode() + b"\n"
            data = line * (size // len(line))
            info = tarfile.TarInfo(f"package/src/f{i}.js")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


_DIFF_IN_A_CHILD = """
import gc, json, sys
from pathlib import Path
from airlock.stage import diff, tarscan

def status(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(field + ":"))

new, old = Path(sys.argv[1]), Path(sys.argv[2])
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak (VmHWM) to the current RSS: imports peak higher
base = status("VmRSS")
now, before = tarscan.scan_file(new), tarscan.scan_file(old)
body = diff.compute(new, old, now, before, diff.Limits(max_files=150))
grown = status("VmHWM") - base
print(json.dumps({"body": body, "unpacked": now.unpacked_size, "grown": grown}))
"""


def test_limits_truncate_and_memory_stays_bounded(tmp_path):
    """~100 MB unpacked per side; the diffing process's peak RSS grows by a fraction of it.

    Measured in a child process (its own peak RSS) rather than with tracemalloc, which
    traced every allocation and made this one test take minutes."""
    old, new = tmp_path / "old.tgz", tmp_path / "new.tgz"
    # 200 changed files of 100 KiB (diffed until the budget runs out) + 40 of 2 MiB.
    _big_tarball(old, "1.0.0", 200, 100 * 1024, 1, big=40)
    _big_tarball(new, "2.0.0", 200, 100 * 1024, 2, big=40)
    run = subprocess.run(
        [sys.executable, "-c", _DIFF_IN_A_CHILD, str(new), str(old)],
        capture_output=True,
        check=True,
        timeout=300,
    )
    result = json.loads(run.stdout)
    body, grown = result["body"], result["grown"]
    assert result["unpacked"] > 90 * 1024 * 1024
    assert body["truncated"] is True
    assert len(body["files"]) == 150
    assert body["summary"]["files"] == 241
    shown = [f for f in body["files"] if "diff" in f]
    assert shown and sum(len(f["diff"]) for f in shown) <= diff.LIMITS.max_diff_bytes
    assert any(
        "limit" in f.get("truncated", "") or "budget" in f.get("truncated", "")
        for f in body["files"]
    )
    print(f"peak RSS grew {grown / 1e6:.1f} MB for {result['unpacked'] / 1e6:.0f} MB per side")
    assert grown < 48 * 1024 * 1024, grown


@pytest.mark.parametrize("size", [diff.LIMITS.max_file_bytes + 1])
def test_a_file_over_the_per_file_limit_is_listed_not_diffed(tmp_path, size):
    old, new = tmp_path / "a.tgz", tmp_path / "b.tgz"
    old.write_bytes(make_tarball("p", "1.0.0", files={"big.txt": b"a\n" * (size // 2 + 1)}))
    new.write_bytes(make_tarball("p", "1.0.1", files={"big.txt": b"b\n" * (size // 2 + 1)}))
    body = diff.compute(new, old, tarscan.scan_file(new), tarscan.scan_file(old))
    big = next(f for f in body["files"] if f["path"] == "big.txt")
    assert "diff" not in big and "larger than" in big["truncated"]
