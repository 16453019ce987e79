"""No single upload within the body limit raises a live server's peak memory by 256 MiB or
more (issue #8 point 9): a 2 GiB-of-zeros member and a 64 MiB long-name header, each on
publish and on stage, measured as the server process's VmHWM in /proc."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hostile import body_around, long_name_bomb, zeros_bomb
from tests.support.users import signup

LIMIT_KIB = 256 * 1024


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("route", ["publish", "stage"])
def test_bombs_do_not_raise_the_servers_peak_memory(server, route):
    assert server.proc is not None and server.proc.pid is not None
    pid = server.proc.pid
    http = server.client(signup(server.url, "bob"))
    http.get("/-/ping")
    probes = {
        "2 GiB of zeros": (zeros_bomb("bomb-z", "1.0.0"), 413),
        "64 MiB long name": (long_name_bomb("bomb-l", "1.0.0"), 400),
    }
    for probe, (tarball, status) in probes.items():
        name = "bomb-z" if "zeros" in probe else "bomb-l"
        body = body_around(name, "1.0.0", tarball)
        before = _peak_kib(pid)
        if route == "publish":
            resp = http.put(f"/{name}", json=body)
        else:
            resp = http.post(f"/-/stage/package/{name}", json=body)
        after = _peak_kib(pid)
        print(
            f"RSS {route} {probe}: upload {len(tarball)} bytes, answer {resp.status_code}, "
            f"VmHWM {before} kB -> {after} kB (+{after - before} kB)"
        )
        assert resp.status_code == status, resp.text
        assert resp.json()["error"]
        assert after - before < LIMIT_KIB, (probe, before, after)
        assert http.get(f"/{name}").status_code == 404  # nothing stored
    assert http.get("/-/ping").status_code == 200
