"""Authenticating a bearer token: one indexed lookup by SHA-256, cached briefly in-process."""

from __future__ import annotations

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


class TokenAuthenticator:
    """Resolves bearer tokens. Revocation is seen at once by this process (evict) and
    within `ttl` seconds by other processes sharing the database."""

    def __init__(self, db: Database, clock: Clock, ttl: float) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self._cache: dict[str, _Entry] = {}

    async def authenticate(self, token: str, client_ip: str) -> tuple[UserRef, TokenScope]:
        digest = hash_token(token)
        entry = self._cache.get(digest)
        if entry is None or time.monotonic() - entry.at > self.ttl:
            entry = await self._load(digest)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = entry
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
        if token_hash is None:
            self._cache.clear()
        else:
            self._cache.pop(token_hash, None)
