"""Concurrent publishes through two worker processes, then kill -9 of the whole server.

Every publish that was answered 201 is there after the restart (packument, integrity,
tarball bytes); every refused one left no row; the blob folder converges to exactly the
blobs rows reference. Runs on SQLite (the cross-process write lock and the inline write
connections) and on PostgreSQL (row locks).
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import threading
from pathlib import Path

import httpx

from tests.e2e.test_blob_races import _wait_for_exact_blobs
from tests.support.packages import make_tarball, publish_body
from tests.support.users import signup

ENV = {
    "AIRLOCK_WORKERS": "2",
    "AIRLOCK_BLOB_GRACE_SECONDS": "2",
    "AIRLOCK_BLOB_SWEEP_SECONDS": "0.3",
}
PACKAGES = 6
TAGS = {1: "one", 2: "two"}
VERSIONS = 8


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's parent and its worker processes)."""
    found = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found += _tree(int(child))
    return found


def _publisher(
    url: str, token: str, name: str, major: int, answers: dict[str, int], lock: threading.Lock
) -> None:
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for i in range(VERSIONS):
            version = f"{major}.0.{i}"
            tarball = make_tarball(name, version, files={"i.js": os.urandom(64)})
            body = publish_body(name, version, tarball, tag=TAGS[major])
            if i % 4 == 3:
                # A bad publish in the stream: its digest does not match its tarball.
                body["versions"][version]["dist"]["integrity"] = "sha512-" + "A" * 86 + "=="
            status = client.put(f"/{name.replace('/', '%2f')}", json=body).status_code
            with lock:
                answers[f"{name}@{version}"] = status
            if i == 5:
                # The same number again, from this client: one winner, a 403/409 here.
                status = client.put(f"/{name.replace('/', '%2f')}", json=body).status_code
                with lock:
                    answers[f"{name}@{version}#again"] = status


def test_every_201_survives_kill_9_and_refusals_leave_nothing(server_factory):
    server = server_factory(env=ENV)
    token = signup(server.url, "pub")
    answers: dict[str, int] = {}
    lock = threading.Lock()
    # Two clients per package (versions 1.x and 2.x): publishes of different packages and
    # of the same package race through both worker processes.
    names = [f"dur-{i}" for i in range(PACKAGES // 2)] + [
        f"@dur/p{i}" for i in range(PACKAGES // 2)
    ]
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {token}"}) as c:
        for name in names:  # created first: two first publishes of one name race to a 409
            first = c.put(f"/{name.replace('/', '%2f')}", json=publish_body(name, "0.0.1"))
            assert first.status_code == 201
            answers[f"{name}@0.0.1"] = 201
    threads = [
        threading.Thread(target=_publisher, args=(server.url, token, n, major, answers, lock))
        for n in names
        for major in (1, 2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server.proc is not None and server.proc.pid is not None
    for pid in reversed(_tree(server.proc.pid)):  # no shutdown, no final checkpoint
        os.kill(pid, signal.SIGKILL)
    server.proc.wait(10)  # type: ignore[union-attr]

    published = {k for k, status in answers.items() if status == 201 and "#" not in k}
    firsts = {k: s for k, s in answers.items() if "#" not in k}
    assert {s for k, s in firsts.items() if k.endswith((".3", ".7"))} == {400}
    assert all(s == 201 for k, s in firsts.items() if not k.endswith((".3", ".7"))), {
        k: s for k, s in firsts.items() if s != 201
    }
    assert {s for k, s in answers.items() if "#" in k} <= {403, 409}

    server.env["AIRLOCK_WORKERS"] = "1"
    server.start()
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {token}"}) as c:
        for name in names:
            doc = c.get(f"/{name.replace('/', '%2f')}").json()
            want = sorted(k.rsplit("@", 1)[1] for k in published if k.rsplit("@", 1)[0] == name)
            assert sorted(doc["versions"]) == want
            assert {doc["dist-tags"]["one"], doc["dist-tags"]["two"]} == {"1.0.6", "2.0.6"}
            for version in want:
                dist = doc["versions"][version]["dist"]
                tarball = c.get(dist["tarball"].removeprefix(server.url))
                assert tarball.status_code == 200
                digest = base64.b64encode(hashlib.sha512(tarball.content).digest()).decode()
                assert dist["integrity"] == f"sha512-{digest}"
    # Refused publishes claimed nothing that outlives the grace period.
    _wait_for_exact_blobs(server)
