"""Two Airlock processes on one database and data folder: every decision is made once."""

from __future__ import annotations

import json
import threading

import httpx

from tests.support.otp import enrol_live
from tests.support.packages import make_package_dir, publish_body
from tests.support.users import signup

ROUNDS_EACH = 7  # x2 kinds of race; each round spends one recovery code of two people


def _fire(requests: list[tuple[httpx.Client, str, str, str]]) -> list[httpx.Response]:
    """Send the requests at the same moment from threads; answers in the same order."""
    barrier = threading.Barrier(len(requests))
    answers: list[httpx.Response | None] = [None] * len(requests)

    def send(i: int, client: httpx.Client, method: str, path: str, otp: str) -> None:
        barrier.wait()
        answers[i] = client.request(method, path, headers={"npm-otp": otp})

    threads = [threading.Thread(target=send, args=(i, *req)) for i, req in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def test_concurrent_decisions_in_two_processes_win_once(server_factory, npm_factory, tmp_path):
    one = server_factory()
    two = server_factory()  # same database, same data folder
    tokens = {name: signup(one.url, name) for name in ("alice", "bob", "carol")}
    alice = npm_factory(one, "alice", tokens["alice"])
    alice.ok("publish", cwd=make_package_dir(tmp_path, "race", "0.0.1"))
    for name in ("bob", "carol"):
        alice.ok("owner", "add", name, "race")
    codes = {name: enrol_live(one.client(token))[1] for name, token in tokens.items()}
    clients = {
        (name, srv.url): srv.client(token) for name, token in tokens.items() for srv in (one, two)
    }
    stager = one.client(tokens["alice"])
    published: list[str] = []
    for rnd in range(2 * ROUNDS_EACH):
        version = f"1.0.{rnd}"
        resp = stager.post("/-/stage/package/race", json=publish_body("race", version))
        assert resp.status_code == 201, resp.text
        stage_id = resp.json()["stageId"]
        first, second = [("alice", "bob"), ("bob", "carol"), ("carol", "alice")][rnd % 3]
        a = clients[(first, one.url)]
        b = clients[(second, two.url)]
        approve = ("POST", f"/-/stage/{stage_id}/approve")
        other = approve if rnd < ROUNDS_EACH else ("DELETE", f"/-/stage/{stage_id}")
        answers = _fire([(a, *approve, codes[first].pop()), (b, *other, codes[second].pop())])
        statuses = sorted(r.status_code for r in answers)
        winners = [r for r in answers if r.status_code in (200, 201)]
        assert len(winners) == 1, (rnd, [(r.status_code, r.text) for r in answers])
        loser = next(r for r in answers if r not in winners)
        assert loser.status_code in (404, 409), (rnd, loser.text)
        if rnd < ROUNDS_EACH:
            assert statuses == [201, 409], (rnd, [r.text for r in answers])
        if answers[0] in winners or rnd < ROUNDS_EACH:
            published.append(version)
        # Whoever won, the outcome is whole: published with its tarball, or gone.
        status = one.client().get(f"/-/package/race/version/{version}/status")
        if version in published:
            assert status.json()["status"] == "published"
            assert one.client().get(f"/race/-/race-{version}.tgz").status_code == 200
        else:
            assert status.status_code == 404
            assert stager.get(f"/-/stage/{stage_id}").status_code == 404
    view = json.loads(alice.ok("view", "race", "versions", "--json").stdout)
    assert sorted(view) == sorted(["0.0.1", *published])
    assert len(published) >= ROUNDS_EACH  # every approve-vs-approve round published once
