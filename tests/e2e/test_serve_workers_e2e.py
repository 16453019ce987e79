"""`airlock serve --workers 2`: a minimal parent, two workers that both serve, restarts,
clean shutdown.

The parent runs the migrations, then becomes a supervisor (`python -m airlock.web.workers`,
same PID) that holds the socket with the standard library only; each worker
(`python -m airlock.web.workers worker`) configures logging like the parent (format and
level).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.packages import make_tarball, publish_body
from tests.support.users import signup


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{key} missing")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""  # exited (and reaped) since `ps` listed it


def _workers(parent: int) -> list[int]:
    return [p for p in _children(parent) if _cmdline(p).endswith("-m airlock.web.workers worker ")]


def _wait_started(srv, count: int) -> None:
    """The server answers once one worker is up; wait for the others (a busy machine)."""
    deadline = time.monotonic() + 120
    while srv.log.read_text().count("Application startup complete") < count:
        assert time.monotonic() < deadline, srv.log.read_text()[-3000:]
        time.sleep(0.2)


def test_two_workers_under_a_slim_supervisor(server_factory):
    srv = server_factory(
        env={"AIRLOCK_WORKERS": "2", "AIRLOCK_LOG_LEVEL": "info", "AIRLOCK_LOG_FORMAT": "json"}
    )
    assert srv.proc is not None
    parent = srv.proc.pid
    assert "-m airlock.web.workers" in _cmdline(parent)
    _wait_started(srv, 2)
    workers = _workers(parent)
    assert len(workers) == 2
    # No other process (multiprocessing's resource tracker) in the tree.
    assert sorted(_children(parent)) == sorted(workers)
    # The parent holds neither the app nor the CLI nor uvicorn: a small fraction of a
    # worker's memory (its peak included: it never imported them).
    for worker in workers:
        assert _status(parent, "VmHWM") * 4 < _status(worker, "VmRSS")

    alice = signup(srv.url, "alice")
    body = publish_body("both", "1.0.0", make_tarball("both", "1.0.0"), registry=srv.url)
    auth = {"authorization": f"Bearer {alice}"}
    assert httpx.put(f"{srv.url}/both", json=body, headers=auth, timeout=30).status_code == 201
    # Fresh connections spread over both workers; each one answers from its own process.
    for _ in range(20):
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            assert client.get("/both").status_code == 200
            assert client.get("/both/-/both-1.0.0.tgz").status_code == 200

    log = srv.log.read_text()
    assert log.count("Started server process") == 2, log[-3000:]
    # The workers log as configured: JSON lines, request lines included at level info.
    requests = [json.loads(line) for line in log.splitlines() if '"event":"request"' in line]
    assert {r["route"] for r in requests} >= {"/{name:pkg}", "/{name:pkg}/-/{filename}"}

    srv.stop()
    assert srv.proc.returncode == 0
    for worker in workers:
        assert not Path(f"/proc/{worker}").exists() or _zombie(worker)


def test_a_worker_that_dies_is_replaced(server_factory):
    srv = server_factory(env={"AIRLOCK_WORKERS": "2"})
    assert srv.proc is not None
    parent = srv.proc.pid
    first = _workers(parent)
    assert len(first) == 2
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = _workers(parent)
        if len(now) == 2 and first[0] not in now:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"worker not replaced: {_workers(parent)}")
    # The replacement serves (fresh connections reach both workers) and the other one
    # was left alone.
    assert first[1] in now
    for _ in range(10):
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            assert client.get("/-/ping").status_code == 200
    srv.stop()
    assert srv.proc.returncode == 0
    assert "exited (signal 9); starting another" in srv.log.read_text()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_workers_honour_the_log_level(server_factory):
    srv = server_factory(env={"AIRLOCK_WORKERS": "2", "AIRLOCK_LOG_LEVEL": "warning"})
    for _ in range(5):
        assert httpx.get(f"{srv.url}/nothing-here", timeout=30).status_code == 404
    srv.stop()
    assert '"request"' not in srv.log.read_text()
    assert "request " not in srv.log.read_text()
    assert os.path.exists(srv.log)
