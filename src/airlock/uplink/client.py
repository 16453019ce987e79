"""HTTP client for the uplink: bounded reads, conditional requests and a circuit breaker.

One instance per process (AppContext.uplink). The breaker follows Verdaccio's
`max_fails`/`fail_timeout`: after `max_fails` consecutive failures the uplink counts as
down for `fail_timeout` seconds (answers come from the cache), then a single probe request
is let through; its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from airlock.context import AppContext
from airlock.lazy import lazy_module
from airlock.settings import Settings
from airlock.uplink.errors import UplinkDown

if TYPE_CHECKING:
    import httpx
else:  # loaded on first use: ~4 MiB a server worker would carry from start-up
    httpx = lazy_module("httpx")

USER_AGENT = "airlock-uplink"
CORGI = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"


@dataclass(frozen=True)
class Fetched:
    body: bytes
    etag: str | None
    last_modified: str | None


class NotModified:
    """The cached copy is still current (304)."""


class Missing:
    """The uplink does not have the name (404/410)."""


class Breaker:
    def __init__(self, max_fails: int, fail_timeout: float) -> None:
        self.max_fails = max(1, max_fails)
        self.fail_timeout = fail_timeout
        self.fails = 0
        self.open_until = 0.0
        self.probing = False

    def allow(self) -> bool:
        if self.fails < self.max_fails:
            return True
        if time.monotonic() < self.open_until or self.probing:
            return False
        self.probing = True  # the one half-open probe
        return True

    def success(self) -> None:
        self.fails = 0
        self.probing = False

    def failure(self) -> None:
        self.fails += 1
        self.probing = False
        if self.fails >= self.max_fails:
            self.open_until = time.monotonic() + self.fail_timeout

    @property
    def is_open(self) -> bool:
        return self.fails >= self.max_fails


class Upstream:
    def __init__(self, settings: Settings) -> None:
        assert settings.uplink_url
        self.url = settings.uplink_url
        self.timeout = settings.uplink_timeout_seconds
        self.max_packument = settings.uplink_max_packument_bytes
        self.max_tarball = settings.uplink_max_tarball_bytes
        self.breaker = Breaker(settings.uplink_max_fails, settings.uplink_fail_timeout_seconds)
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                headers={"user-agent": USER_AGENT},
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def packument_url(self, name: str) -> str:
        return f"{self.url}/{quote(name, safe='@')}"

    def tarball_url(self, name: str, filename: str) -> str:
        # Always on the uplink's own origin: a packument cannot send Airlock elsewhere (SSRF).
        return f"{self.url}/{name}/-/{quote(filename)}"

    async def packument(
        self, name: str, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched | NotModified | Missing:
        headers = {"accept": "application/json"}
        if etag:
            headers["if-none-match"] = etag
        if last_modified:
            headers["if-modified-since"] = last_modified
        status, body, resp_headers = await self._get(
            self.packument_url(name), headers, self.max_packument
        )
        if status == 304:
            return NotModified()
        if status in (404, 410):
            return Missing()
        return Fetched(body, resp_headers.get("etag"), resp_headers.get("last-modified"))

    async def exists(self, name: str, wait: float | None = None) -> bool:
        status, _, _ = await self._get(
            self.packument_url(name), {"accept": CORGI}, self.max_packument, wait
        )
        return status == 200

    async def tarball(self, name: str, filename: str) -> bytes:
        status, body, _ = await self._get(self.tarball_url(name, filename), {}, self.max_tarball)
        if status != 200:
            raise UplinkDown(f"tarball answered {status}")
        return body

    async def _get(
        self, url: str, headers: dict[str, str], limit: int, wait: float | None = None
    ) -> tuple[int, bytes, httpx.Headers]:
        """One GET; 200/304/404/410 are answers, everything else is a failure of the uplink."""
        if not self.breaker.allow():
            raise UplinkDown("circuit breaker open")
        seconds = self.timeout if wait is None else wait
        try:
            async with self._http().stream("GET", url, headers=headers, timeout=seconds) as resp:
                if resp.status_code not in (200, 304, 404, 410):
                    raise UplinkDown(f"uplink answered {resp.status_code}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise UplinkDown(f"uplink response larger than {limit} bytes")
                    chunks.append(chunk)
                result = (resp.status_code, b"".join(chunks), resp.headers)
        except (httpx.HTTPError, UplinkDown) as exc:
            self.breaker.failure()
            raise UplinkDown(str(exc) or type(exc).__name__) from exc
        self.breaker.success()
        return result

    def failed(self) -> None:
        """The caller found the answer unusable (garbage JSON, wrong integrity)."""
        self.breaker.failure()


def upstream_of(ctx: AppContext) -> Upstream | None:
    """The context's uplink client (bootstrap puts it there), None without `uplink_url`."""
    upstream = ctx.uplink
    assert upstream is None or isinstance(upstream, Upstream)
    return upstream
