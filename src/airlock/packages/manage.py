"""Changing a published package: dist-tags, deprecation, unpublish, owners, access.

Each operation authorizes first (outside the write transaction, because the second-factor
check keeps its own replay state), then changes the rows and rebuilds the packuments in one
transaction, re-checking ownership there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.accounts.models import User
from airlock.audit.events import Event, record
from airlock.authz.actions import Action
from airlock.authz.policy import authorize
from airlock.authz.principal import Principal
from airlock.context import AppContext
from airlock.errors import BadRequest, Conflict, Forbidden
from airlock.packages import repository as repo
from airlock.packages.errors import InvalidPackage, PackageNotFound
from airlock.packages.models import DistTag, Maintainer, Package, Version
from airlock.packages.names import scope_of, validate_tag
from airlock.packages.packument import highest
from airlock.packages.service import discard_blobs, locked_package, touch

T = TypeVar("T")
Change = Callable[[AsyncSession, Package], Awaitable[T]]


async def change(
    ctx: AppContext,
    principal: Principal,
    name: str,
    action: Action,
    fn: Change[T],
    what: str | None = None,
) -> T:
    """Authorize `action` on an existing package, then run `fn` in one write transaction.
    `what` names the change in words (the web 2FA page shows it; the code is bound to it)."""
    async with ctx.db.read() as session:
        package, ref = await repo.package_ref(session, name, principal)
    if package is None:
        raise PackageNotFound(name)
    await authorize(ctx, principal, action, ref, description=what)
    async with ctx.db.write() as session:
        locked = await locked_package(session, name, principal)
        if locked is None:
            raise PackageNotFound(name)
        return await fn(session, locked)


def check_rev(package: Package, rev: str) -> None:
    """CouchDB-style optimistic concurrency on the `_rev` npm read before writing."""
    if rev.split("-", 1)[0] != str(package.rev):
        raise Conflict(
            f"{package.name} changed since you read it (revision {rev} is not current); retry."
        )


def actor(principal: Principal) -> str | None:
    return principal.user.name if principal.user else None


def audit(
    ctx: AppContext,
    session: AsyncSession,
    principal: Principal,
    event: Event,
    name: str,
    **details: Any,
) -> None:
    """Record a package event by the caller, in the caller's transaction."""
    record(session, ctx.clock, event, actor=actor(principal), package=name, **details)


# --- dist-tags -------------------------------------------------------------------------


async def add_dist_tag(
    ctx: AppContext, principal: Principal, name: str, tag: str, version: str
) -> None:
    validate_tag(tag)

    async def fn(session: AsyncSession, package: Package) -> None:
        row = await repo.get_version(session, package.id, version)
        if row is None or row.state != "published":
            raise InvalidPackage(f"{name}@{version} is not a published version.")
        await repo.set_dist_tag(session, package.id, tag, version)
        await touch(ctx, session, package)
        audit(
            ctx,
            session,
            principal,
            Event.DIST_TAG_CHANGED,
            name,
            version=version,
            tag=tag,
        )

    await change(ctx, principal, name, Action.MANAGE, fn, f"Add dist-tag {tag} to {name}@{version}")


async def remove_dist_tag(ctx: AppContext, principal: Principal, name: str, tag: str) -> None:
    if tag == "latest":
        raise BadRequest("The latest tag cannot be removed; point it at another version.")

    async def fn(session: AsyncSession, package: Package) -> None:
        if not await repo.delete_dist_tag(session, package.id, tag):
            raise PackageNotFound(f"{name} (dist-tag {tag})")
        await touch(ctx, session, package)
        audit(
            ctx,
            session,
            principal,
            Event.DIST_TAG_CHANGED,
            name,
            tag=tag,
            removed=True,
        )

    await change(ctx, principal, name, Action.MANAGE, fn, f"Remove dist-tag {tag} from {name}")


# --- deprecate -------------------------------------------------------------------------


async def deprecate(
    ctx: AppContext, principal: Principal, name: str, messages: dict[str, str]
) -> None:
    """Set (or with "" clear) the deprecation message of the named published versions."""

    async def fn(session: AsyncSession, package: Package) -> None:
        rows = {
            v.version: v for v in await repo.versions_in_state(session, package.id, "published")
        }
        changed = False
        for version, message in messages.items():
            row = rows.get(version)
            new = message or None
            if row is None or row.deprecated == new:
                continue
            row.deprecated = new
            changed = True
            audit(
                ctx,
                session,
                principal,
                Event.VERSION_DEPRECATED,
                name,
                version=version,
                message=message,
            )
        if changed:
            await touch(ctx, session, package)

    what = f"Change the deprecation messages of {name}"
    await change(ctx, principal, name, Action.MANAGE, fn, what)


# --- unpublish -------------------------------------------------------------------------


async def unpublish_versions(
    ctx: AppContext, principal: Principal, name: str, versions: Sequence[str], rev: str | None
) -> None:
    """Tombstone the named published versions (the tarball DELETE of `npm unpublish`).

    `npm unpublish pkg@1.0.0` first PUTs the packument without 1.0.0 (which tombstones it,
    with the one code the user gave), then DELETEs the tarball with the same code. Codes
    are single use, so when nothing named is still published the DELETE removes nothing
    and needs no second factor: only the maintainer check.
    """
    async with ctx.db.read() as session:
        package, ref = await repo.package_ref(session, name, principal)
        live = (
            [v for v in await repo.versions_in_state(session, package.id, "published")]
            if package is not None
            else []
        )
    if package is not None and not any(v.version in versions for v in live):
        await authorize(ctx, principal, Action.MANAGE, ref, fresh_factor=False)
        return
    what = f"Unpublish {name}@{', '.join(versions)}"
    await _unpublish(ctx, principal, name, rev, lambda v: v in versions, what)


async def unpublish_missing(
    ctx: AppContext, principal: Principal, name: str, keep: set[str], rev: str
) -> None:
    """Tombstone the published versions absent from the document npm sent back."""
    await _unpublish(
        ctx, principal, name, rev, lambda v: v not in keep, f"Unpublish versions of {name}"
    )


async def _unpublish(
    ctx: AppContext,
    principal: Principal,
    name: str,
    rev: str | None,
    chosen: Callable[[str], bool],
    what: str,
) -> None:
    """Tombstone versions: the rows stay so the numbers are never used again."""

    async def fn(session: AsyncSession, package: Package) -> list[str | None]:
        if rev is not None:
            check_rev(package, rev)
        published = await repo.versions_in_state(session, package.id, "published")
        gone = [v for v in published if chosen(v.version)]
        if not gone:
            return []
        keys = _tombstone(ctx, gone)
        remaining = [v.version for v in published if v not in gone]
        await _repair_tags(session, package, remaining)
        await touch(ctx, session, package)
        for v in gone:
            audit(
                ctx,
                session,
                principal,
                Event.VERSION_UNPUBLISHED,
                name,
                version=v.version,
            )
        return keys

    keys = await change(ctx, principal, name, Action.MANAGE, fn, what)
    # Rows first, blobs after: a crash leaves an orphan file, never a row without its blob.
    await discard_blobs(ctx, *keys)


async def unpublish_package(ctx: AppContext, principal: Principal, name: str, rev: str) -> None:
    """Tombstone every published version; the name stays with its maintainers."""

    async def fn(session: AsyncSession, package: Package) -> list[str | None]:
        check_rev(package, rev)
        published = await repo.versions_in_state(session, package.id, "published")
        keys = _tombstone(ctx, published)
        await session.execute(delete(DistTag).where(DistTag.package_id == package.id))
        await touch(ctx, session, package)
        audit(
            ctx,
            session,
            principal,
            Event.PACKAGE_UNPUBLISHED,
            name,
            versions=[v.version for v in published],
        )
        return keys

    keys = await change(
        ctx, principal, name, Action.MANAGE, fn, f"Unpublish every version of {name}"
    )
    await discard_blobs(ctx, *keys)


def _tombstone(ctx: AppContext, versions: Sequence[Version]) -> list[str | None]:
    keys: list[str | None] = []
    for v in versions:
        keys += [v.blob_key, v.provenance_key]
        v.state = "unpublished"
        v.unpublished_at = ctx.clock.now()
        v.blob_key = None
        v.provenance_key = None
    return keys


async def _repair_tags(session: AsyncSession, package: Package, remaining: list[str]) -> None:
    """Drop tags that pointed at removed versions; keep `latest` on the highest left."""
    tags = await repo.dist_tags(session, package.id)
    for tag, version in tags.items():
        if version not in remaining:
            await repo.delete_dist_tag(session, package.id, tag)
    await session.flush()
    if remaining and tags.get("latest") not in remaining:
        best = highest(remaining, stable_only=True) or highest(remaining)
        if best is not None:
            await repo.set_dist_tag(session, package.id, "latest", best)


# --- owners and access -----------------------------------------------------------------


async def set_maintainers(
    ctx: AppContext, principal: Principal, name: str, names: list[str], rev: str | None
) -> None:
    """Replace the maintainer list (`npm owner add|rm` sends the whole new list)."""
    wanted = sorted(set(names))
    if not wanted:
        raise BadRequest("A package must keep at least one maintainer.")

    async def fn(session: AsyncSession, package: Package) -> None:
        if rev is not None:
            check_rev(package, rev)
        users = (await session.execute(select(User).where(User.name.in_(wanted)))).scalars().all()
        missing = sorted(set(wanted) - {u.name for u in users})
        if missing:
            raise BadRequest(f"No such user: {', '.join(missing)}.")
        current = {u.name for u in await repo.maintainers(session, package.id)}
        await session.execute(
            delete(Maintainer).where(
                Maintainer.package_id == package.id,
                Maintainer.user_id.not_in([u.id for u in users]),
            )
        )
        for user in users:
            if user.name not in current:
                session.add(
                    Maintainer(package_id=package.id, user_id=user.id, added_at=ctx.clock.now())
                )
        await session.flush()
        await touch(ctx, session, package)
        audit(
            ctx,
            session,
            principal,
            Event.OWNER_CHANGED,
            name,
            added=sorted(set(wanted) - current),
            removed=sorted(current - set(wanted)),
        )

    what = f"Set the owners of {name} to {', '.join(wanted)}"
    await change(ctx, principal, name, Action.GOVERN, fn, what)


async def set_access(
    ctx: AppContext, principal: Principal, name: str, body: dict[str, Any]
) -> None:
    """`npm access set status=...` and `set mfa=...`."""
    updates = access_updates(name, body)

    async def fn(session: AsyncSession, package: Package) -> None:
        require_own_2fa_for_mfa(principal, updates)
        for key, value in updates.items():
            setattr(package, key, value)
        await touch(ctx, session, package)
        audit(
            ctx,
            session,
            principal,
            Event.ACCESS_CHANGED,
            name,
            **updates,
        )

    settings = ", ".join(f"{key}={value}" for key, value in sorted(updates.items()))
    await change(ctx, principal, name, Action.GOVERN, fn, f"Change access of {name}: {settings}")


def require_own_2fa_for_mfa(principal: Principal, updates: dict[str, str]) -> None:
    """Requiring 2FA for a package needs 2FA on the account first (as on npmjs): without it
    the maintainer could never change the package again (see docs/security.md)."""
    if updates.get("mfa_policy", "none") == "none":
        return
    if principal.user is None or principal.user.tfa_mode is None:
        raise Forbidden(
            "Enable two-factor authentication on your account first "
            "(npm profile enable-2fa auth-and-writes), then require it for the package."
        )


def access_updates(name: str, body: dict[str, Any]) -> dict[str, str]:
    updates: dict[str, str] = {}
    access = body.get("access")
    if access is not None:
        if access == "private":
            access = "restricted"
        if access not in ("public", "restricted"):
            raise BadRequest(f"Invalid access {access!r}: use public or restricted.")
        if access == "restricted" and scope_of(name) is None:
            raise BadRequest("Unscoped packages cannot be restricted (private).")
        updates["access"] = access
    if "publish_requires_tfa" in body:
        requires = body.get("publish_requires_tfa")
        overrides = body.get("automation_token_overrides_tfa")
        if not isinstance(requires, bool):
            raise BadRequest("publish_requires_tfa must be true or false.")
        updates["mfa_policy"] = (
            "none" if not requires else "automation" if overrides is True else "publish"
        )
    if not updates:
        raise BadRequest("Nothing to change: send access or publish_requires_tfa.")
    return updates
