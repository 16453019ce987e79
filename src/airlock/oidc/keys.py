"""Issuers' signing keys: discovery -> jwks_uri -> JWKS, cached per issuer.

Keys are cached for `ttl` seconds. A token signed with a key id the cache does not know
triggers one refetch (issuers rotate keys), at most once per `refetch_after` seconds per
issuer so that junk tokens cannot make Airlock hammer the issuer.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airlock.issuer_urls import check_issuer_url
from airlock.lazy import lazy_module
from airlock.oidc.errors import ExchangeError, IssuerUnavailable

if TYPE_CHECKING:
    import httpx
    import jwt
else:  # loaded on first use: PyJWT imports cryptography (~10 MiB per process), httpx ~4
    httpx = lazy_module("httpx")
    jwt = lazy_module("jwt")

_MAX_DOCUMENT_BYTES = 256 * 1024


@dataclass
class _Entry:
    keys: dict[str, jwt.PyJWK]
    fetched_at: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The last failed fetch, remembered for `failure_ttl` seconds (no refetch before).
    failed_at: float = float("-inf")
    failure: IssuerUnavailable | None = None


class KeyCache:
    """One per process (the web layer keeps it on the app). At most `max_issuers` are
    kept (least recently used dropped first), so junk issuer ids cannot grow memory."""

    def __init__(
        self,
        ttl: float,
        refetch_after: float = 10.0,
        timeout: float = 10.0,
        failure_ttl: float = 60.0,
        max_issuers: int = 64,
    ) -> None:
        self.ttl = ttl
        self.refetch_after = refetch_after
        self.timeout = timeout
        self.failure_ttl = failure_ttl
        self.max_issuers = max_issuers
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.fetches = 0  # how many JWKS downloads happened (observable in tests)

    def _entry(self, issuer: str) -> _Entry:
        entry = self._entries.get(issuer)
        if entry is None:
            entry = _Entry(keys={}, fetched_at=float("-inf"))
            self._entries[issuer] = entry
            while len(self._entries) > self.max_issuers:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(issuer)
        return entry

    async def key(self, issuer: str, kid: str | None) -> jwt.PyJWK:
        """The signing key `kid` of `issuer` (already checked to be a configured issuer)."""
        entry = self._entry(issuer)
        async with entry.lock:
            now = time.monotonic()
            age = now - entry.fetched_at
            known = self._pick(entry.keys, kid) is not None
            if age > self.ttl or (not known and age > self.refetch_after):
                if entry.failure is not None and now - entry.failed_at < self.failure_ttl:
                    raise entry.failure
                try:
                    entry.keys = await self._fetch(issuer)
                except IssuerUnavailable as exc:
                    entry.failure, entry.failed_at = exc, time.monotonic()
                    raise
                entry.failure = None
                entry.fetched_at = time.monotonic()
        found = self._pick(entry.keys, kid)
        if found is None:
            raise ExchangeError(f"the ID token was signed with an unknown key ({kid})")
        return found

    @staticmethod
    def _pick(keys: dict[str, jwt.PyJWK], kid: str | None) -> jwt.PyJWK | None:
        if kid is not None:
            return keys.get(kid)
        # Without a kid, only an issuer with a single key is unambiguous.
        return next(iter(keys.values())) if len(keys) == 1 else None

    async def _fetch(self, issuer: str) -> dict[str, jwt.PyJWK]:
        self.fetches += 1
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            discovery = await self._get_json(client, f"{issuer}/.well-known/openid-configuration")
            if str(discovery.get("issuer", "")).rstrip("/") != issuer:
                raise IssuerUnavailable(f"the discovery document of {issuer} names another issuer")
            jwks_uri = discovery.get("jwks_uri")
            try:
                check_issuer_url(str(jwks_uri))
            except ValueError as exc:
                raise IssuerUnavailable(f"{issuer} publishes an unusable jwks_uri") from exc
            jwks = await self._get_json(client, str(jwks_uri))
        try:
            keyset = jwt.PyJWKSet.from_dict(jwks)
        except (jwt.PyJWKSetError, jwt.InvalidKeyError, KeyError, TypeError) as exc:
            raise IssuerUnavailable(f"{issuer} publishes no usable signing keys") from exc
        return {(k.key_id or ""): k for k in keyset.keys}

    async def _get_json(self, client: httpx.AsyncClient, url: str) -> dict[str, Any]:
        try:
            resp = await client.get(url, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise IssuerUnavailable(f"could not reach {url}: {type(exc).__name__}") from exc
        if resp.status_code != 200 or len(resp.content) > _MAX_DOCUMENT_BYTES:
            raise IssuerUnavailable(f"{url} answered {resp.status_code}")
        try:
            body = resp.json()
        except ValueError as exc:
            raise IssuerUnavailable(f"{url} did not answer JSON") from exc
        if not isinstance(body, dict):
            raise IssuerUnavailable(f"{url} did not answer a JSON object")
        return body
