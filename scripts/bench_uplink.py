"""Uplink benchmark: a local packument against a cached uplink packument on one server.

Starts an upstream `airlock serve` and a proxy `airlock serve` (SQLite, 127.0.0.1 only,
one worker each) with `uplink_url` pointing at the upstream and a long TTL, publishes a
package with --versions versions on each side (`bench-local` on the proxy, `bench-up`
upstream), fetches `bench-up` through the proxy once (stored and preprocessed), then loads
both names alternately with wrk (Debian package `wrk`) for --seconds each and prints
requests/second and latency. Bounded: --reps rounds of fixed-length runs.

    .venv/bin/python scripts/bench_uplink.py [--seconds 5] [--connections 32] [--reps 2]

A/B against another revision: `PYTHONPATH=<its src> .venv/bin/python scripts/bench_uplink.py`
(`git archive <rev> src | tar -x -C /tmp/before`): both servers then run that code.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import httpx

import airlock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_reads import wrk  # noqa: E402
from tests.support.packages import make_tarball, publish_body  # noqa: E402
from tests.support.server import LiveServer  # noqa: E402
from tests.support.users import signup  # noqa: E402

CORGI = "application/vnd.npm.install-v1+json"


def _publish(server: LiveServer, token: str, name: str, versions: int) -> None:
    auth = {"authorization": f"Bearer {token}"}
    for i in range(versions):
        version = f"1.0.{i}"
        body = publish_body(name, version, make_tarball(name, version), registry=server.url)
        httpx.put(f"{server.url}/{name}", json=body, headers=auth, timeout=60).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        up_data, proxy_data = Path(tmp) / "upstream", Path(tmp) / "proxy"
        upstream = LiveServer(up_data, f"sqlite:///{up_data / 'airlock.db'}").start()
        env = {"AIRLOCK_UPLINK_URL": upstream.url, "AIRLOCK_UPLINK_TTL_SECONDS": "86400"}
        proxy = LiveServer(proxy_data, f"sqlite:///{proxy_data / 'airlock.db'}", env=env)
        proxy.start()
        try:
            _publish(upstream, signup(upstream.url, "pub"), "bench-up", args.versions)
            token = signup(proxy.url, "bench")
            _publish(proxy, token, "bench-local", args.versions)
            for name in ("bench-local", "bench-up"):
                for headers in ({}, {"accept": CORGI, "accept-encoding": "gzip"}):
                    httpx.get(f"{proxy.url}/{name}", headers=headers).raise_for_status()
            auth = {"authorization": f"Bearer {token}"}
            cases = [
                ("full, anonymous", {}),
                ("corgi gzip, bearer token", {"accept": CORGI, "accept-encoding": "gzip", **auth}),
            ]
            print(
                f"{args.versions} versions, {args.connections} connections, {args.seconds}s "
                f"each, {args.reps} reps, airlock from {Path(airlock.__file__).parent}"
            )
            print(f"{'case':42} {'req/s':>9} {'p50':>9} {'p99':>9} {'non-2xx':>8}")
            for rep in range(args.reps):
                for label, headers in cases:
                    for name in ("bench-local", "bench-up"):
                        r = wrk(f"{proxy.url}/{name}", args.seconds, args.connections, headers)
                        case = f"{rep + 1}: {name} {label}"
                        print(
                            f"{case:42} {r['rps']:>9} {r['p50']:>9} {r['p99']:>9} {r['non2xx']:>8}",
                            flush=True,
                        )
        finally:
            proxy.stop()
            upstream.stop()


if __name__ == "__main__":
    main()
