"""Queries for trust relationships and used ID tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.oidc.models import TrustRelationship, UsedIdToken
from airlock.tokens.models import Token


async def relationships(
    session: AsyncSession, package_id: uuid.UUID
) -> Sequence[TrustRelationship]:
    return (
        (
            await session.execute(
                select(TrustRelationship)
                .where(TrustRelationship.package_id == package_id)
                .order_by(TrustRelationship.created_at, TrustRelationship.id)
            )
        )
        .scalars()
        .all()
    )


async def fingerprint_taken(session: AsyncSession, package_id: uuid.UUID, fingerprint: str) -> bool:
    found = await session.scalar(
        select(
            exists().where(
                TrustRelationship.package_id == package_id,
                TrustRelationship.fingerprint == fingerprint,
            )
        )
    )
    return bool(found)


async def revoke_tokens_of(session: AsyncSession, trust_id: uuid.UUID, now: datetime) -> list[str]:
    """Revoke live short-lived tokens minted from a relationship; returns their hashes."""
    hashes = (
        (
            await session.execute(
                select(Token.token_hash).where(
                    Token.trust_id == trust_id, Token.revoked_at.is_(None)
                )
            )
        )
        .scalars()
        .all()
    )
    if hashes:
        await session.execute(
            update(Token)
            .where(Token.trust_id == trust_id, Token.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return list(hashes)


async def prune_used_tokens(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(UsedIdToken).where(UsedIdToken.expires_at <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]
