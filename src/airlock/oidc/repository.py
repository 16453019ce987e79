"""Queries for trust relationships, used ID tokens and the packages they hang off."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.authz.policy import PackageRef
from airlock.oidc.models import TrustRelationship, UsedIdToken
from airlock.packages.models import Maintainer, Package
from airlock.tokens.models import Token


async def package_and_ref(
    session: AsyncSession, name: str, user_id: uuid.UUID | None
) -> tuple[Package | None, PackageRef]:
    package = (
        await session.execute(select(Package).where(Package.name == name))
    ).scalar_one_or_none()
    maintainer = False
    if package is not None and user_id is not None:
        maintainer = bool(
            await session.scalar(
                select(
                    exists().where(
                        Maintainer.package_id == package.id, Maintainer.user_id == user_id
                    )
                )
            )
        )
    ref = PackageRef(
        name=name,
        exists=package is not None,
        is_maintainer=maintainer,
        access=package.access if package else "public",
        mfa_policy=package.mfa_policy if package else "none",
    )
    return package, ref


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
