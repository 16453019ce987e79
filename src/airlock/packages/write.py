"""The one path that turns an upload into a version row, for `npm publish` and stage.

Both go through `write_version`: authorize, store the blobs, then one transaction (lock
the package or create it, free a lapsed stage, one number check, the row, `make_live`
for a publish, the audit event), then one cleanup. So publish and stage answer a taken
number with the same status and message and clean up the same way.

Callers that write several versions in one transaction (a batch publish) use
`write_versions`, or open their own unit of work and call `write_version_rows` for each
upload with the keys from `store_upload_blobs`; the rows commit or roll back together.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.audit.events import Event, insert_record
from airlock.authz.actions import Action
from airlock.authz.policy import authorize, check_access
from airlock.authz.principal import PackageRef, Principal
from airlock.context import AppContext
from airlock.errors import AirlockError, Conflict, Forbidden, Unauthorized
from airlock.packages import blobs
from airlock.packages import repository as repo
from airlock.packages import statements as sql
from airlock.packages.errors import StagedVersionConflict, VersionConflict
from airlock.packages.models import Package, Version
from airlock.packages.service import (
    create_package,
    discard_blobs,
    locked_package,
    make_live,
    npm_user_for,
    store_upload_blobs,
)
from airlock.packages.upload import Upload
from airlock.uplink.guard import guard_new_name

log = logging.getLogger("airlock.packages")

PUBLISHED = "published"
STAGED = "staged"

Keys = tuple[str, str | None]
# Extra fields a kind of write sets on its new row (stage: actor, expiry, ...).
Decorate = Callable[[Version, Package], None]


@dataclass(frozen=True)
class WriteKind:
    action: Action  # what `authorize` checks
    state: str  # the new row's state
    event: Event  # the audit event


PUBLISH = WriteKind(Action.PUBLISH, PUBLISHED, Event.VERSION_PUBLISHED)
STAGE = WriteKind(Action.STAGE, STAGED, Event.VERSION_STAGED)


@dataclass
class Written:
    package: Package
    version: Version
    # Blob keys of a lapsed stage this write replaced: deleted after the commit.
    freed: list[str | None] = field(default_factory=list)


async def check_may_write(
    ctx: AppContext, principal: Principal, name: str, actions: Iterable[Action]
) -> None:
    """Before an upload's body is read: refuse anyone who may do none of `actions` on
    `name` (signed in, token limits, ownership; the second factor comes later, once)."""
    if principal.user is None:
        raise Unauthorized(f"You must be logged in to publish or change {name}. Run `npm login`.")
    async with ctx.db.read(point=True) as session:
        ref = await repo.ref_only(session, name, principal)
    refusal: AirlockError | None = None
    for action in actions:
        try:
            check_access(principal, action, ref)
            return
        except AirlockError as exc:
            refusal = refusal or exc
    if refusal is not None:
        raise refusal


async def package_ref(ctx: AppContext, principal: Principal, name: str) -> PackageRef:
    """What the policy needs to know about `name`, as `principal` sees it."""
    async with ctx.db.read(point=True) as session:
        return await repo.ref_only(session, name, principal)


def describe_publish(uploads: Sequence[Upload]) -> str:
    """The publish in words, for the web 2FA page ("Publish @acme/web@2.4.0")."""
    versions = ", ".join(u.version for u in uploads)
    tags = sorted({u.tag for u in uploads} - {"latest"})
    with_tag = f" with dist-tag {', '.join(tags)}" if tags else ""
    return f"Publish {uploads[0].name}@{versions}{with_tag}"


async def write_version(
    ctx: AppContext,
    principal: Principal,
    upload: Upload,
    kind: WriteKind,
    decorate: Decorate | None = None,
) -> Written:
    """Authorize, store the blobs, write the row in one transaction; clean up on failure."""
    return (await write_versions(ctx, principal, [upload], kind, decorate))[0]


async def write_versions(
    ctx: AppContext,
    principal: Principal,
    uploads: Sequence[Upload],
    kind: WriteKind,
    decorate: Decorate | None = None,
) -> list[Written]:
    """Several versions (of one or more packages) in ONE transaction: all or none."""
    for name in dict.fromkeys(u.name for u in uploads):
        # Before any blob is written, so strangers cannot fill the disk.
        ref = await package_ref(ctx, principal, name)
        mine = [u for u in uploads if u.name == name]
        await authorize(ctx, principal, kind.action, ref, description=describe_publish(mine))
        if not ref.exists:
            await guard_new_name(ctx, name)  # no local name may shadow an uplink one
    stored: list[Keys] = []
    try:
        for upload in uploads:
            stored.append(await store_upload_blobs(ctx, upload))
        async with ctx.db.write() as session:
            written = [
                await write_version_rows(ctx, session, principal, upload, keys, kind, decorate)
                for upload, keys in zip(uploads, stored, strict=True)
            ]
    except IntegrityError as exc:
        await forget(ctx, [k for keys in stored for k in keys])
        # Another request took this name or number between our check and our insert.
        spec = ", ".join(f"{u.name}@{u.version}" for u in uploads)
        raise Conflict(
            f"{spec} was published or staged at the same time by another request; check "
            "with `npm view` or `npm stage list` and try again if needed."
        ) from exc
    except BaseException:
        await forget(ctx, [k for keys in stored for k in keys])
        raise
    await forget(ctx, [k for w in written for k in w.freed])
    return written


async def write_version_rows(
    ctx: AppContext,
    session: AsyncSession,
    principal: Principal,
    upload: Upload,
    keys: Keys,
    kind: WriteKind,
    decorate: Decorate | None = None,
) -> Written:
    """The rows of one version inside the caller's open write transaction.

    The caller has authorized `kind.action` and stored the blobs (`keys`); ownership is
    checked again here, under the package lock.
    """
    assert principal.user is not None
    freed: list[str | None] = []
    package = await locked_package(session, upload.name, principal)
    if package is None:
        package = await create_package(ctx, session, upload.name, principal.user.id, upload.access)
    else:
        freed = await check_version_free(ctx, session, package, upload.version)
    # Before the row that points at them: the blobs stay ours until commit, however long
    # this took since they were claimed.
    await blobs.hold(ctx, session, _blob_bytes(upload, keys))
    version = new_version_row(ctx, package, upload, keys, state=kind.state)
    version.npm_user = npm_user_for(principal)
    if decorate is not None:
        decorate(version, package)
    if kind.state == PUBLISHED:
        # The new row is inserted by make_live, already live (one INSERT, no UPDATE).
        await make_live(ctx, session, package, version, upload.tag, npm_user_for(principal))
    else:
        session.add(version)
    extra = {"stage_id": str(version.id)} if kind.state == STAGED else {}
    await insert_record(
        session,
        ctx.clock,
        kind.event,
        actor=principal.user.name,
        package=package.name,
        version=upload.version,
        tag=upload.tag,
        **extra,
    )
    return Written(package=package, version=version, freed=freed)


def _blob_bytes(upload: Upload, keys: Keys) -> dict[str, bytes]:
    tarball_key, provenance_key = keys
    wanted = {tarball_key: upload.tarball}
    if provenance_key is not None and upload.provenance is not None:
        wanted[provenance_key] = upload.provenance
    return wanted


async def check_version_free(
    ctx: AppContext, session: AsyncSession, package: Package, version: str
) -> list[str | None]:
    """Refuse a number that is published, staged or was ever used, up to build metadata;
    give the blob keys of a lapsed stage that held it and was deleted now.

    Semver (and npm) treat `1.0.0+x` as the same version as `1.0.0`: a published,
    staged or unpublished `1.0.0` takes every `1.0.0+...`, and the other way round.
    """
    freed: list[str | None] = []
    existing = await _same_version(session, package, version)
    if existing is not None and existing.state == STAGED and _lapsed(existing, ctx):
        # A lapsed stage that the sweep has not deleted yet must not hold the number.
        # Looked for first, so the common case (a free number) costs no DELETE.
        freed = await repo.delete_lapsed_stage(session, package.id, version, ctx.clock.now())
        existing = await _same_version(session, package, version) if freed else existing
    if existing is None:
        await _check_version_count(ctx, session, package)
        return freed
    same = "" if existing.version == version else f" ({existing.version}, equal in semver)"
    if existing.state == STAGED:
        raise StagedVersionConflict(
            f"{package.name}@{existing.version}{same} is already staged (stage "
            f"{existing.id}). A staged version and its tag cannot be changed: approve it, or "
            f"reject it (npm stage reject {existing.id}) and publish or stage again."
        )
    reason = ""
    if existing.state != PUBLISHED:
        reason = " (it was unpublished; version numbers cannot be reused)"
    # npm's own status and wording for a taken number, for publish and stage alike.
    raise VersionConflict(
        f"You cannot publish over the previously published versions: {version}{same}{reason}."
    )


# (id, version, state, expires_at) of a version row.
NumberRow = Row[uuid.UUID, str, str, datetime | None]


def _lapsed(row: NumberRow, ctx: AppContext) -> bool:
    return row.expires_at is not None and row.expires_at <= ctx.clock.now()


async def _same_version(session: AsyncSession, package: Package, version: str) -> NumberRow | None:
    """The oldest row whose number equals `version` up to build metadata."""
    core = version.split("+", 1)[0]
    params = {"package_id": package.id, "core": core, "core_plus": sql.like_prefix(f"{core}+")}
    conn = await sql.connection(session)
    row: NumberRow | None = (await conn.execute(sql.SAME_NUMBER, params)).first()
    return row


async def _check_version_count(ctx: AppContext, session: AsyncSession, package: Package) -> None:
    # Every packument build reads every version: keep one package's history bounded.
    limit = ctx.settings.max_versions_per_package
    conn = await sql.connection(session)
    used = (await conn.execute(sql.VERSION_COUNT, {"package_id": package.id})).scalar()
    if (used or 0) >= limit:
        raise Forbidden(
            f"{package.name} has {used} version numbers, the most one package may have "
            f"({limit}). Unpublished and staged versions count too."
        )


def new_version_row(
    ctx: AppContext,
    package: Package,
    upload: Upload,
    keys: Keys,
    *,
    state: str,
) -> Version:
    return Version(
        id=uuid.uuid4(),
        package_id=package.id,
        version=upload.version,
        state=state,
        manifest=upload.manifest,
        blob_key=keys[0],
        provenance_key=keys[1],
        shasum=upload.shasum,
        integrity=upload.integrity,
        size=upload.size,
        file_count=upload.file_count,
        unpacked_size=upload.unpacked_size,
        created_at=ctx.clock.now(),
        tag=upload.tag,
        requested_access=upload.access,
    )


async def forget(ctx: AppContext, keys: list[str | None]) -> None:
    """The one cleanup of the write path: delete blobs no row references any more.

    A failure only leaves an unreferenced blob behind (never a row without its blob), so
    it is logged and never hides the error or the result the caller is returning.
    """
    try:
        await discard_blobs(ctx, *dict.fromkeys(keys))
    except Exception:
        log.exception("could not delete blobs %s", keys)
