"""Time S3 client libraries against a local moto server: which one backs storage = "s3".

Usage: python scripts/bench_s3_clients.py [--small 1000] [--big-mb 50]
Starts `moto_server` on a free 127.0.0.1 port, then for each library: PUT and GET of N
small blobs (2 KiB, 16 at a time) and of one big blob, wall-clock seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from tests.support.s3 import MotoServer

SMALL = os.urandom(2048)
CONCURRENCY = 16


async def _gather(n: int, fn: Callable[[int], Awaitable[object]]) -> None:
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with sem:
            await fn(i)

    await asyncio.gather(*(one(i) for i in range(n)))


async def bench_aiobotocore(url: str, bucket: str, n: int, big: bytes) -> dict[str, float]:
    from aiobotocore.session import get_session

    out: dict[str, float] = {}
    async with get_session().create_client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    ) as s3:
        t = time.perf_counter()
        await _gather(n, lambda i: s3.put_object(Bucket=bucket, Key=f"a/{i}", Body=SMALL))
        out["small put"] = time.perf_counter() - t

        async def get(i: int) -> None:
            resp = await s3.get_object(Bucket=bucket, Key=f"a/{i}")
            async with resp["Body"] as body:
                await body.read()

        t = time.perf_counter()
        await _gather(n, get)
        out["small get"] = time.perf_counter() - t
        t = time.perf_counter()
        await s3.put_object(Bucket=bucket, Key="a/big", Body=big)
        out["big put"] = time.perf_counter() - t
        t = time.perf_counter()
        resp = await s3.get_object(Bucket=bucket, Key="a/big")
        async with resp["Body"] as body:
            async for _ in body.iter_chunks(1 << 20):
                pass
        out["big get (streamed)"] = time.perf_counter() - t
    return out


async def bench_obstore(url: str, bucket: str, n: int, big: bytes) -> dict[str, float]:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        bucket,
        endpoint=url,
        region="us-east-1",
        access_key_id="k",
        secret_access_key="s",
        client_options={"allow_http": True},
    )
    out: dict[str, float] = {}
    t = time.perf_counter()
    await _gather(n, lambda i: obstore.put_async(store, f"o/{i}", SMALL))
    out["small put"] = time.perf_counter() - t

    async def get(i: int) -> None:
        resp = await obstore.get_async(store, f"o/{i}")
        await resp.bytes_async()

    t = time.perf_counter()
    await _gather(n, get)
    out["small get"] = time.perf_counter() - t
    t = time.perf_counter()
    await obstore.put_async(store, "o/big", big)
    out["big put"] = time.perf_counter() - t
    t = time.perf_counter()
    resp = await obstore.get_async(store, "o/big")
    async for _ in resp.stream(min_chunk_size=1 << 20):
        pass
    out["big get (streamed)"] = time.perf_counter() - t
    return out


async def bench_boto3_threads(url: str, bucket: str, n: int, big: bytes) -> dict[str, float]:
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=Config(max_pool_connections=CONCURRENCY),
    )
    out: dict[str, float] = {}

    def th(fn: Callable[[], object]) -> Awaitable[object]:
        return asyncio.to_thread(fn)

    t = time.perf_counter()
    await _gather(n, lambda i: th(lambda: s3.put_object(Bucket=bucket, Key=f"b/{i}", Body=SMALL)))
    out["small put"] = time.perf_counter() - t
    t = time.perf_counter()
    await _gather(
        n, lambda i: th(lambda: s3.get_object(Bucket=bucket, Key=f"b/{i}")["Body"].read())
    )
    out["small get"] = time.perf_counter() - t
    t = time.perf_counter()
    await th(lambda: s3.put_object(Bucket=bucket, Key="b/big", Body=big))
    out["big put"] = time.perf_counter() - t

    def get_big() -> None:
        for _ in s3.get_object(Bucket=bucket, Key="b/big")["Body"].iter_chunks(1 << 20):
            pass

    t = time.perf_counter()
    await th(get_big)
    out["big get (streamed)"] = time.perf_counter() - t
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--big-mb", type=int, default=50)
    args = parser.parse_args()
    big = os.urandom(args.big_mb * 1024 * 1024)
    with MotoServer() as moto:
        for name, fn in (
            ("aiobotocore", bench_aiobotocore),
            ("obstore", bench_obstore),
            ("boto3 in threads", bench_boto3_threads),
        ):
            bucket = moto.create_bucket()
            result = asyncio.run(fn(moto.url, bucket, args.small, big))
            line = ", ".join(f"{k} {v:.2f} s" for k, v in result.items())
            print(f"{name:17} {line}", flush=True)


if __name__ == "__main__":
    main()
