"""Publish-only benchmark with the shared harness's own request code (bench/bench.py).

Starts `airlock serve` (SQLite + filesystem blobs in a fresh --data folder) on a free
127.0.0.1 port, signs up a user, publishes the first --packages packages of a corpus built
by `bench/corpus.py` with --conc concurrent clients exactly as `bench.py run` does (npm's
PUT, versions of one package in order), and prints versions/s, latency and the server's
CPU per version (user and sys of its whole process tree). Bounded: each version is sent
once. For A/B pairs, point --bin at another checkout's `airlock`.

    python3 bench/corpus.py --out /tmp/corpus
    .venv/bin/python scripts/bench_publish.py --corpus /tmp/corpus --packages 25 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import bench  # type: ignore[import-not-found]  # noqa: E402


def _tree_cpu(pid: int) -> tuple[float, float]:
    """(user, sys) seconds of `pid` and all its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    todo, seen = [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            user += int(fields[11]) / tick
            system += int(fields[12]) / tick
            for task in os.listdir(f"/proc/{p}/task"):
                children = Path(f"/proc/{p}/task/{task}/children").read_text().split()
                todo += [int(c) for c in children]
        except OSError:
            continue
    return user, system


def _signup(url: str) -> str:
    body = {"name": "bench", "password": "bench-password-1", "email": "bench@example.com"}
    resp = httpx.put(f"{url}/-/user/org.couchdb.user:bench", json=body, timeout=30)
    resp.raise_for_status()
    return str(resp.json()["token"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True, help="folder written by bench/corpus.py")
    ap.add_argument("--bin", default=str(ROOT / ".venv/bin/airlock"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--packages", type=int, default=400)
    ap.add_argument("--conc", type=int, default=8)
    a = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    data = Path(tempfile.mkdtemp(prefix="airlock-publish-bench-"))
    server_args = ["--workers", str(a.workers), "--data", str(data)]
    log = (data.parent / f"{data.name}.log").open("w")
    proc = subprocess.Popen(
        [a.bin, "serve", "--host", "127.0.0.1", "--port", str(port), *server_args],
        env={**os.environ, "AIRLOCK_LOG_LEVEL": "warning"},
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        bench.wait_ready(url + "/", "/-/ping", timeout=180)
        token = _signup(url)
        index: dict[str, Any] = json.loads((Path(a.corpus) / "corpus.json").read_text())
        index["packages"] = index["packages"][: a.packages]
        bodies = bench.publish_bodies(index, a.corpus, url + "/")
        load = os.getloadavg()
        before = _tree_cpu(proc.pid)
        result = bench.run_publish(url + "/", token, bodies, a.conc)
        after = _tree_cpu(proc.pid)
        n = result["versions"]
        result["server_user_ms_per_version"] = round((after[0] - before[0]) * 1000 / n, 2)
        result["server_sys_ms_per_version"] = round((after[1] - before[1]) * 1000 / n, 2)
        result["workers"] = a.workers
        result["loadavg_before"] = [round(x, 2) for x in load]
        result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(result))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
