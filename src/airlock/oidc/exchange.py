"""The OIDC token exchange: a CI provider's ID token in, a short-lived registry token out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from airlock.accounts.models import User
from airlock.audit.events import Event, record
from airlock.authz.principal import TokenKind, TokenPermission
from airlock.context import AppContext
from airlock.oidc import providers
from airlock.oidc import repository as repo
from airlock.oidc.errors import ExchangeError
from airlock.oidc.keys import KeyCache
from airlock.oidc.models import TrustRelationship, UsedIdToken
from airlock.oidc.verify import VerifiedToken, peek_issuer, verify_id_token
from airlock.packages import repository as packages_repo
from airlock.tokens.models import Token
from airlock.tokens.secrets import display_prefix, hash_token, new_token

# The npm-command header of the exchange request says what the token is wanted for.
_COMMAND_PERMISSION = {"publish": providers.PUBLISH, "stage": providers.STAGE}


@dataclass(frozen=True)
class Exchanged:
    token: str
    created: datetime
    expires: datetime


def _no_match(name: str, provider: str) -> ExchangeError:
    # One answer whether the package is missing or no relationship matches.
    return ExchangeError(
        f"no trust relationship of package {name} matches this {provider} workflow",
        status=404,
    )


def choose(
    matching: Sequence[TrustRelationship], command: str | None
) -> tuple[TrustRelationship, list[str]]:
    """The relationship a token comes from, and the permissions it carries.

    When the command's permission is granted by a matching relationship, the token gets
    only that permission (least privilege). Otherwise it carries the union of what the
    matching relationships allow, so that the write itself fails with a message npm
    prints ("may not publish ... allows only createStagedPackage") instead of an
    exchange failure npm swallows.
    """
    wanted = _COMMAND_PERMISSION.get((command or "").strip().lower())
    for rel in matching:
        if wanted is not None and wanted in rel.permissions:
            return rel, [wanted]
    union = [p for p in providers.PERMISSIONS if any(p in r.permissions for r in matching)]
    return matching[0], union


async def exchange(
    ctx: AppContext, keys: KeyCache, name: str, id_token: str, command: str | None
) -> Exchanged:
    """Match `id_token`'s issuer to `name`'s relationships, verify it, and mint a token.

    Relationships are looked up before any key is fetched: an ID token for a package
    with no relationship on its issuer costs no outbound request.
    """
    issuer = peek_issuer(ctx, id_token)
    async with ctx.db.read() as session:
        package = await packages_repo.get_package(session, name)
        rels = await repo.relationships(session, package.id) if package else []
    candidates = [r for r in rels if r.provider == issuer.provider and r.issuer == issuer.name]
    if not candidates:
        raise _no_match(name, issuer.provider)
    verified = await verify_id_token(ctx, keys, id_token)
    provider = verified.issuer.provider
    matching = [r for r in candidates if providers.matches(provider, r.claims, verified.claims)]
    rel, permissions = choose(matching, command) if matching else (None, [])
    async with ctx.db.read() as session:
        owner = await session.get(User, rel.created_by) if rel else None
    if rel is None or owner is None:
        raise _no_match(name, provider)
    return await _mint(ctx, verified, name, rel, owner, permissions)


async def _mint(
    ctx: AppContext,
    verified: VerifiedToken,
    name: str,
    rel: TrustRelationship,
    owner: User,
    permissions: list[str],
) -> Exchanged:
    secret = new_token()
    now = ctx.clock.now()
    expires = now + timedelta(seconds=ctx.settings.oidc_token_ttl_seconds)
    publisher = trusted_publisher(rel, verified)
    try:
        async with ctx.db.write() as session:
            # Expired entries can no longer be replayed: pruning them here (an indexed
            # delete) keeps the table small without a background job.
            await repo.prune_used_tokens(session, now)
            session.add(
                UsedIdToken(
                    issuer=verified.issuer.url, jti=verified.jti, expires_at=verified.expires_at
                )
            )
            await session.flush()
            session.add(_token_row(secret, name, rel, owner, permissions, publisher, now, expires))
            record(
                session,
                ctx.clock,
                Event.TOKEN_CREATED,
                actor=owner.name,
                package=name,
                kind="oidc",
                trust_id=str(rel.id),
                permissions=permissions,
                publisher=publisher,
            )
    except IntegrityError as exc:
        raise ExchangeError("this ID token has already been used (replayed jti)") from exc
    return Exchanged(token=secret, created=now, expires=expires)


def _token_row(
    secret: str,
    name: str,
    rel: TrustRelationship,
    owner: User,
    permissions: list[str],
    publisher: dict[str, Any],
    now: datetime,
    expires: datetime,
) -> Token:
    return Token(
        user_id=owner.id,
        token_hash=hash_token(secret),
        display=display_prefix(secret),
        kind=TokenKind.OIDC.value,
        name=f"trusted publishing: {name}",
        description=providers.describe(publisher),
        permission=TokenPermission.READ_WRITE.value,
        packages=[name],
        created_at=now,
        expires_at=expires,
        trust_id=rel.id,
        trust_permissions=permissions,
        trusted_publisher=publisher,
    )


def trusted_publisher(rel: TrustRelationship, verified: VerifiedToken) -> dict[str, Any]:
    """`_npmUser.trustedPublisher`: npmjs's {id, oidcConfigId} plus the workflow identity."""
    return {
        "id": rel.provider,
        "oidcConfigId": str(rel.id),
        "issuer": verified.issuer.url,
        **providers.identity(rel.provider, verified.claims),
    }
