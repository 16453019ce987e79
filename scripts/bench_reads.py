"""Read-path benchmark: packuments and tarballs, anonymous and with a bearer token.

Starts its own `airlock serve` (SQLite or --database-url) on 127.0.0.1, publishes a
package with 50 versions over HTTP, then loads the read endpoints with wrk (Debian
package `wrk`) for a fixed time each and prints requests/second and latency. Bounded:
each run lasts --seconds, traffic goes only to 127.0.0.1.

    .venv/bin/python scripts/bench_reads.py [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.packages import make_tarball, publish_body  # noqa: E402
from tests.support.server import LiveServer  # noqa: E402
from tests.support.users import signup  # noqa: E402


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, str]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+(\S+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps.group(1) if rps else "?",
        "p50": p50.group(1) if p50 else "?",
        "p99": p99.group(1) if p99 else "?",
        "non2xx": errors.group(1) if errors else "0",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="airlock serve --workers")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        db_url = args.database_url or f"sqlite:///{data / 'airlock.db'}"
        server = LiveServer(
            data, db_url, env={"AIRLOCK_LOG_LEVEL": "warning", "AIRLOCK_WORKERS": str(args.workers)}
        ).start()
        try:
            token = signup(server.url, "bench")
            auth = {"authorization": f"Bearer {token}"}
            for i in range(args.versions):
                version = f"1.0.{i}"
                body = publish_body(
                    "bench-pkg", version, make_tarball("bench-pkg", version), registry=server.url
                )
                resp = httpx.put(f"{server.url}/bench-pkg", json=body, headers=auth, timeout=60)
                resp.raise_for_status()
            tarball = f"{server.url}/bench-pkg/-/bench-pkg-1.0.0.tgz"
            corgi = {"accept": "application/vnd.npm.install-v1+json"}
            cases = [
                ("packument full, anonymous", f"{server.url}/bench-pkg", {}),
                ("packument full, bearer token", f"{server.url}/bench-pkg", auth),
                ("packument corgi, anonymous", f"{server.url}/bench-pkg", corgi),
                ("packument full, gzip", f"{server.url}/bench-pkg", {"accept-encoding": "gzip"}),
                ("tarball, anonymous", tarball, {}),
                ("tarball, bearer token", tarball, auth),
                ("ping (framework floor)", f"{server.url}/-/ping", {}),
            ]
            print(
                f"{args.versions} versions, {args.connections} connections, "
                f"{args.seconds}s each, database {db_url.split(':')[0]}"
            )
            print(f"{'case':32} {'req/s':>9} {'p50':>9} {'p99':>9} {'non-2xx':>8}")
            for label, url, headers in cases:
                r = wrk(url, args.seconds, args.connections, headers)
                print(f"{label:32} {r['rps']:>9} {r['p50']:>9} {r['p99']:>9} {r['non2xx']:>8}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
