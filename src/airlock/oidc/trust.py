"""Managing trust relationships (`npm trust github|gitlab|circleci|list|revoke`)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.audit.events import Event, record
from airlock.authz.actions import Action
from airlock.authz.policy import authorize
from airlock.authz.principal import Principal
from airlock.clock import iso
from airlock.context import AppContext
from airlock.errors import Unauthorized
from airlock.oidc import issuers, providers
from airlock.oidc import repository as repo
from airlock.oidc.errors import InvalidTrustConfig, TrustConflict, TrustNotFound
from airlock.oidc.models import TrustRelationship
from airlock.packages import repository as packages_repo
from airlock.packages.models import Package

MAX_PER_PACKAGE = 20
MAX_PER_REQUEST = 5


def config_json(rel: TrustRelationship) -> dict[str, Any]:
    """A relationship as npm's trust commands read it (claims in npm's own shape)."""
    return {
        "id": str(rel.id),
        "type": rel.provider,
        # Airlock's extension: which configured issuer (npm ignores the field).
        "issuer": rel.issuer,
        "claims": rel.claims,
        "permissions": rel.permissions,
        "createdAt": iso(rel.created_at),
    }


Config = tuple[str, str, dict[str, Any], list[str]]  # provider, issuer name, claims, permissions


def parse_configs(body: Any, issuer_names: Callable[[str], list[str]]) -> list[Config]:
    """npm sends an array holding one config; a single object is accepted too.

    `issuer` (an Airlock field npm cannot send) picks an extra issuer of the provider by
    its settings name, e.g. "github:ghes"; without it, the provider's primary issuer.
    """
    items = body if isinstance(body, list) else [body]
    if not items or len(items) > MAX_PER_REQUEST:
        raise InvalidTrustConfig(f"Send between 1 and {MAX_PER_REQUEST} trust configurations.")
    parsed = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidTrustConfig("Each trust configuration must be an object.")
        provider = item.get("type")
        if not isinstance(provider, str):
            raise InvalidTrustConfig("`type` must be github, gitlab or circleci.")
        claims = providers.parse_config(provider, item.get("claims"))
        issuer = item.get("issuer", provider)
        if issuer not in issuer_names(provider):
            raise InvalidTrustConfig(
                f"`issuer` must be one of this registry's {provider} issuers: "
                f"{', '.join(issuer_names(provider))}."
            )
        permissions = providers.parse_permissions(item.get("permissions"))
        parsed.append((provider, issuer, claims, permissions))
    return parsed


def fingerprint(provider: str, issuer: str, claims: dict[str, Any]) -> str:
    # Same issuer and claims = the same workflow; permissions differ only by revoke+create.
    # (The same repository name on another issuer is someone else's workflow.)
    doc = {"type": provider, "claims": claims}
    if issuer != provider:
        doc["issuer"] = issuer  # primary-issuer fingerprints stay what they were
    canonical = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def _governed_package(ctx: AppContext, principal: Principal, name: str, what: str) -> Package:
    """The package, once the caller is known to be a maintainer (with 2FA when enabled)."""
    if principal.user is None:
        raise Unauthorized("You must be logged in to manage trusted publishers. Run `npm login`.")
    async with ctx.db.read() as session:
        package, ref = await packages_repo.package_ref(session, name, principal)
    if package is None:
        raise TrustNotFound(f"Package {name} not found.")
    # Outside any write transaction: the second-factor check writes on its own.
    await authorize(ctx, principal, Action.GOVERN, ref, description=what)
    return package


async def create(
    ctx: AppContext, principal: Principal, name: str, body: Any
) -> list[dict[str, Any]]:
    """Add relationships; 409 if one with the same provider and claims exists."""
    if principal.user is None:
        raise Unauthorized("You must be logged in to manage trusted publishers. Run `npm login`.")
    configs = parse_configs(body, lambda provider: issuers.names(ctx.settings, provider))
    kinds = ", ".join(sorted({c[0] for c in configs}))
    what = f"Add a trusted publisher ({kinds}) to {name}"
    package = await _governed_package(ctx, principal, name, what)
    try:
        async with ctx.db.write() as session:
            existing = await repo.relationships(session, package.id)
            if len(existing) + len(configs) > MAX_PER_PACKAGE:
                raise InvalidTrustConfig(
                    f"A package may have at most {MAX_PER_PACKAGE} trust relationships."
                )
            rows = [await _insert(ctx, session, principal, package, c) for c in configs]
    except IntegrityError as exc:
        # A concurrent identical `npm trust` won the unique constraint.
        raise _conflict(configs[0][0]) from exc
    return [config_json(r) for r in rows]


async def _insert(
    ctx: AppContext,
    session: AsyncSession,
    principal: Principal,
    package: Package,
    config: Config,
) -> TrustRelationship:
    assert principal.user is not None
    provider, issuer, claims, permissions = config
    fp = fingerprint(provider, issuer, claims)
    if await repo.fingerprint_taken(session, package.id, fp):
        raise _conflict(provider)
    row = TrustRelationship(
        package_id=package.id,
        provider=provider,
        issuer=issuer,
        claims=claims,
        permissions=permissions,
        fingerprint=fp,
        created_by=principal.user.id,
        created_at=ctx.clock.now(),
    )
    session.add(row)
    await session.flush()
    record(
        session,
        ctx.clock,
        Event.TRUST_CREATED,
        actor=principal.user.name,
        package=package.name,
        trust_id=str(row.id),
        provider=provider,
        permissions=permissions,
    )
    return row


def _conflict(provider: str) -> TrustConflict:
    return TrustConflict(
        f"An identical {provider} trust relationship already exists for this package. "
        "To change its permissions, revoke it (npm trust revoke --id) and create it again."
    )


async def list_for(ctx: AppContext, principal: Principal, name: str) -> list[dict[str, Any]]:
    package = await _governed_package(
        ctx, principal, name, f"List the trusted publishers of {name}"
    )
    async with ctx.db.read() as session:
        return [config_json(r) for r in await repo.relationships(session, package.id)]


async def revoke(ctx: AppContext, principal: Principal, name: str, trust_id: str) -> None:
    """Delete a relationship and revoke the short-lived tokens minted from it."""
    what = f"Revoke trusted publisher {trust_id} of {name}"
    package = await _governed_package(ctx, principal, name, what)
    assert principal.user is not None
    try:
        wanted = uuid.UUID(trust_id)
    except ValueError as exc:
        raise TrustNotFound(f"No trust relationship {trust_id} on {name}.") from exc
    async with ctx.db.write() as session:
        row = await session.get(TrustRelationship, wanted)
        if row is None or row.package_id != package.id:
            raise TrustNotFound(f"No trust relationship {trust_id} on {name}.")
        await session.delete(row)
        hashes = await repo.revoke_tokens_of(session, row.id, ctx.clock.now())
        record(
            session,
            ctx.clock,
            Event.TRUST_REVOKED,
            actor=principal.user.name,
            package=name,
            trust_id=str(row.id),
            provider=row.provider,
            tokens_revoked=len(hashes),
        )
    for digest in hashes:
        ctx.tokens.evict(digest)
