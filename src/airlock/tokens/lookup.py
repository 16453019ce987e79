"""Authenticating a bearer token: one indexed lookup by SHA-256, cached briefly in-process."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy import select

from airlock.accounts.models import User
from airlock.authz.principal import TokenKind, TokenPermission, TokenScope, UserRef
from airlock.clock import Clock
from airlock.db.engine import Database
from airlock.errors import Unauthorized
from airlock.tokens.models import Token
from airlock.tokens.secrets import hash_token


def user_ref(user: User) -> UserRef:
    mode = None if user.tfa_pending else user.tfa_mode
    return UserRef(id=user.id, name=user.name, email=user.email, tfa_mode=mode)


def token_scope(token: Token) -> TokenScope:
    return TokenScope(
        id=token.id,
        kind=TokenKind(token.kind),
        permission=TokenPermission(token.permission),
        packages=tuple(token.packages or ()),
        scopes=tuple(token.scopes or ()),
        cidr=tuple(token.cidr or ()),
        bypass_2fa=token.bypass_2fa,
        expires_at=token.expires_at,
        trust_id=token.trust_id,
        trust_permissions=tuple(token.trust_permissions or ()),
        trusted_publisher=token.trusted_publisher,
    )


@dataclass
class _Entry:
    user: UserRef
    scope: TokenScope
    at: float


# An entry older than this share of the ttl is reloaded in the background while it is still
# served, so a busy token never expires under load: when it did, every request in flight
# (64 at a time in the benchmark) missed at once and queued its own lookup for the
# database's few connections, which stalled all of them for 100-200 ms every `ttl`.
_REFRESH_AFTER = 0.8


class TokenAuthenticator:
    """Resolves bearer tokens. Revocation is seen at once by this process (evict) and
    within `ttl` seconds by other processes sharing the database.

    One lookup per token at a time: concurrent misses wait for the same load, and an
    entry past `_REFRESH_AFTER` of its ttl is refreshed ahead while it is still served (an
    entry is never served past `ttl`)."""

    def __init__(self, db: Database, clock: Clock, ttl: float) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self._cache: dict[str, _Entry] = {}
        self._loading: dict[str, asyncio.Task[_Entry]] = {}
        # Bumped by evict: a load that started before an eviction must not store its result.
        self._generation = 0

    async def authenticate(self, token: str, client_ip: str) -> tuple[UserRef, TokenScope]:
        entry = await self._entry(hash_token(token))
        scope = entry.scope
        if scope.expires_at is not None and scope.expires_at <= self.clock.now():
            raise Unauthorized("This token has expired. Create a new one or run `npm login`.")
        if not scope.allows_ip(client_ip):
            raise Unauthorized(
                f"This token may not be used from {client_ip}: it is limited to "
                f"{', '.join(scope.cidr)}.",
                challenge="ipaddress",
            )
        return entry.user, scope

    async def _entry(self, digest: str) -> _Entry:
        entry = self._cache.get(digest)
        if entry is not None:
            age = time.monotonic() - entry.at
            if age <= self.ttl:
                if age > self.ttl * _REFRESH_AFTER and digest not in self._loading:
                    self._start_load(digest)
                return entry
        task = self._loading.get(digest) or self._start_load(digest)
        # shield: a caller that goes away (client disconnect) does not cancel the others' load.
        return await asyncio.shield(task)

    def _start_load(self, digest: str) -> asyncio.Task[_Entry]:
        task = asyncio.ensure_future(self._load_and_keep(digest, self._generation))
        self._loading[digest] = task
        task.add_done_callback(lambda done: self._finished(digest, done))
        return task

    def _finished(self, digest: str, task: asyncio.Task[_Entry]) -> None:
        if self._loading.get(digest) is task:
            del self._loading[digest]
        if not task.cancelled():
            task.exception()  # retrieved here too: a refresh ahead may have no waiter

    async def _load_and_keep(self, digest: str, generation: int) -> _Entry:
        try:
            entry = await self._load(digest)
        except Unauthorized:
            self._cache.pop(digest, None)  # revoked since it was cached: gone at once
            raise
        if generation == self._generation:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = entry
        return entry

    async def _load(self, digest: str) -> _Entry:
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(Token, User)
                    .join(User, User.id == Token.user_id)
                    .where(Token.token_hash == digest, Token.revoked_at.is_(None))
                )
            ).first()
        if row is None:
            raise Unauthorized("Unknown or revoked token. Run `npm login` to get a new one.")
        token, user = row
        return _Entry(user=user_ref(user), scope=token_scope(token), at=time.monotonic())

    def evict(self, token_hash: str | None = None) -> None:
        """Forget one cached token (or all), e.g. after a revocation or a 2FA change."""
        self._generation += 1
        if token_hash is None:
            self._cache.clear()
            self._loading.clear()
        else:
            self._cache.pop(token_hash, None)
            self._loading.pop(token_hash, None)
