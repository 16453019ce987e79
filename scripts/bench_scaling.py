"""Scaling benchmark: costs that must follow the work, not the package's history.

1. Publish cost: publishing version 2 of small packages against version 5,001 of a package
   with 5,000 published versions (seeded straight into the database, then one rebuild).
   Goal: the second costs at most twice the first.
2. A ~20 MB packument (3,000 versions with long manifests) fetched in a loop by 8 clients
   while wrk measures a small packument: its p99 must stay under twice its idle p99.
3. `npm stage list` (GET /-/stage, first page) with 10 and with 10,000 open stages; and the
   small-packument p99 while the expiry sweep (every second here) deletes 10,000 stages.

Starts its own `airlock serve` (SQLite, or --database-url) on 127.0.0.1; bounded: a fixed
number of publishes and fixed-length wrk runs (Debian package `wrk`).

    .venv/bin/python scripts/bench_scaling.py [--history 5000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.packages import make_tarball, publish_body  # noqa: E402
from tests.support.server import LiveServer  # noqa: E402
from tests.support.users import signup  # noqa: E402

from airlock.bootstrap import build_context  # noqa: E402
from airlock.packages.models import Package, Version  # noqa: E402
from airlock.packages.service import rebuild_packuments  # noqa: E402
from airlock.settings import Settings  # noqa: E402

_SERVER_URL: list[str] = []


def put(
    url: str, auth: dict[str, str], name: str, version: str, extra: dict | None = None
) -> float:
    body = publish_body(name, version, make_tarball(name, version), registry=url)
    body["versions"][version].update(extra or {})
    start = time.perf_counter()
    resp = httpx.put(f"{url}/{name}", json=body, headers=auth, timeout=120)
    elapsed = time.perf_counter() - start
    resp.raise_for_status()
    return elapsed


def _copy(first: Version, version: str, extra: dict, **fields: object) -> Version:
    """A new row for `version` sharing `first`'s tarball blob and digests."""
    return Version(
        id=uuid.uuid4(),
        package_id=first.package_id,
        version=version,
        manifest={**first.manifest, "version": version, **extra},
        blob_key=first.blob_key,
        shasum=first.shasum,
        integrity=first.integrity,
        size=first.size,
        file_count=first.file_count,
        unpacked_size=first.unpacked_size,
        **fields,
    )


async def _seed(data: Path, db_url: str, name: str, fill) -> None:  # type: ignore[no-untyped-def]
    """Open a context on the server's database and let `fill(ctx, session, package, first)`
    add rows next to the package's version 1.0.0, in one transaction."""
    # The server's public URL: documents built here link tarballs as the server's do, so
    # its next publish extends them instead of rebuilding for a new URL.
    url = _SERVER_URL[0]
    ctx = build_context(Settings(data=data, database_url=db_url, port=0, public_url=url))
    try:
        async with ctx.db.write() as session:
            package = (
                await session.execute(select(Package).where(Package.name == name))
            ).scalar_one()
            first = (
                await session.execute(
                    select(Version).where(
                        Version.package_id == package.id, Version.version == "1.0.0"
                    )
                )
            ).scalar_one()
            await fill(ctx, session, package, first)
    finally:
        await ctx.db.dispose()


async def seed(data: Path, db_url: str, name: str, count: int, extra: dict) -> None:
    """Copy version 1.0.0's row `count - 1` times (later publish times, all before now),
    then rebuild once."""

    async def fill(ctx, session, package, first) -> None:  # type: ignore[no-untyped-def]
        # All in the past (a millisecond apart), so the next real publish is the newest,
        # as in a real history (a publish dated before the last one is a full rebuild).
        first.published_at -= timedelta(milliseconds=count) + timedelta(seconds=1)
        for i in range(1, count):
            at = first.published_at + timedelta(milliseconds=i)
            session.add(
                _copy(
                    first,
                    f"1.0.{i}",
                    extra,
                    state="published",
                    created_at=first.created_at,
                    published_at=at,
                    npm_user=first.npm_user,
                )
            )
        await session.flush()
        await rebuild_packuments(ctx, session, package)

    await _seed(data, db_url, name, fill)


async def seed_stages(
    data: Path, db_url: str, name: str, count: int, *, expired: bool, start: int = 0
) -> None:
    """`count` staged versions of `name` (copies of its 1.0.0 row), open or already lapsed."""

    async def fill(ctx, session, package, first) -> None:  # type: ignore[no-untyped-def]
        now = ctx.clock.now()
        expires = now - timedelta(seconds=1) if expired else now + timedelta(days=1)
        for i in range(start, start + count):
            session.add(
                _copy(
                    first,
                    f"9.0.{i}",
                    {},
                    state="staged",
                    created_at=now + timedelta(milliseconds=i),
                    tag="latest",
                    actor="bench",
                    actor_type="user",
                    expires_at=expires,
                )
            )

    await _seed(data, db_url, name, fill)


def median_ms(url: str, auth: dict[str, str], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        httpx.get(url, headers=auth, timeout=60).raise_for_status()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) * 1000, 1)


def wrk(url: str, seconds: int, connections: int) -> float:
    """p99 latency in ms of GETs of `url`."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    assert m, out
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def _load() -> str:
    """The host's load averages (1, 5, 15 min): the machine is shared, say how busy it was."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--history", type=int, default=5000)
    parser.add_argument("--huge-versions", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--parts", default="publish,large,stages", help="comma-separated subset to run"
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    results: dict[str, object] = {"load_before": _load()}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        db_url = args.database_url or f"sqlite:///{data / 'airlock.db'}"
        env = {"AIRLOCK_LOG_LEVEL": "warning", "AIRLOCK_EXPIRY_SWEEP_SECONDS": "1"}
        server = LiveServer(data, db_url, env=env).start()
        try:
            url = server.url
            _SERVER_URL.append(url)
            auth = {"authorization": f"Bearer {signup(url, 'bench')}"}
            # 1. version 2 of fresh packages vs version history+1 of an old one.
            second = []
            for i in range(args.samples):
                put(url, auth, f"small-{i}", "1.0.0")
                second.append(put(url, auth, f"small-{i}", "1.0.1"))
            small = f"{url}/small-0"
            if "publish" in parts:
                put(url, auth, "big", "1.0.0")
                asyncio.run(seed(data, server.database_url, "big", args.history, {}))
                later = [
                    put(url, auth, "big", f"1.0.{args.history + i}") for i in range(args.samples)
                ]
                v2, vn = statistics.median(second) * 1000, statistics.median(later) * 1000
                results["publish"] = {
                    "version_2_ms": round(v2, 1),
                    f"version_{args.history + 1}_ms": round(vn, 1),
                    "ratio": round(vn / v2, 2),
                    "big_packument_bytes": len(httpx.get(f"{url}/big").content),
                }
                print(json.dumps(results["publish"]), flush=True)

            if "large" in parts:
                # 2. a ~20 MB packument under load does not hold up small reads.
                notes = {"x-notes": "lorem ipsum dolor sit amet " * 250}
                put(url, auth, "huge", "1.0.0", notes)
                asyncio.run(seed(data, server.database_url, "huge", args.huge_versions, notes))
                size = len(httpx.get(f"{url}/huge", timeout=60).content)
                idle = wrk(small, args.seconds, 8)
                loader = subprocess.Popen(
                    ["wrk", "-t1", "-c8", f"-d{args.seconds + 4}s", f"{url}/huge"],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                time.sleep(2)
                busy = wrk(small, args.seconds, 8)
                out, _ = loader.communicate()
                rps = re.search(r"Requests/sec:\s+([\d.]+)", out or "")
                results["large_packument"] = {
                    "bytes": size,
                    "small_p99_idle_ms": round(idle, 2),
                    "small_p99_while_8_clients_fetch_it_ms": round(busy, 2),
                    "ratio": round(busy / idle, 2),
                    "large_req_per_s": float(rps.group(1)) if rps else None,
                }
                print(json.dumps(results["large_packument"]), flush=True)

            if "stages" in parts:
                # 3. stage list costs one page; the expiry sweep does not slow reads.
                put(url, auth, "staged", "1.0.0")
                asyncio.run(seed_stages(data, server.database_url, "staged", 10, expired=False))
                few = median_ms(f"{url}/-/stage", auth, args.samples)
                asyncio.run(
                    seed_stages(data, server.database_url, "staged", 9990, expired=False, start=10)
                )
                page = httpx.get(f"{url}/-/stage", headers=auth, timeout=60)
                many = median_ms(f"{url}/-/stage", auth, args.samples)
                idle = wrk(small, args.seconds, 8)
                put(url, auth, "lapsed", "1.0.0")
                asyncio.run(seed_stages(data, server.database_url, "lapsed", 10_000, expired=True))
                sweeping = wrk(small, args.seconds, 8)
                results["stages"] = {
                    "list_10_ms": few,
                    "list_10000_ms": many,
                    "page_bytes_10000": len(page.content),
                    "small_p99_idle_ms": round(idle, 2),
                    "small_p99_while_sweeping_10000_ms": round(sweeping, 2),
                }
                print(json.dumps(results["stages"]), flush=True)
        finally:
            server.stop()
    results["load_after"] = _load()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
