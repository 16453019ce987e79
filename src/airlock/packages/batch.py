"""Atomic multi-package publish (`pnpm publish --recursive --batch`): all or nothing.

Each document goes through exactly what one `npm publish` does (the same validation, the
same policy, the same row writer `write.write_version_rows`), only inside one transaction
for the whole batch: every check runs and every blob is written first, then the rows of
every package are written together, so a refusal of any one leaves none of them published
and no blob behind. A refusal names the package and version it is about. One second
factor covers the batch (a code is single use: it is checked once, for every package
that needs one).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from airlock.authz.actions import Action
from airlock.authz.policy import check_access
from airlock.authz.principal import Principal
from airlock.authz.second_factor import require_all
from airlock.context import AppContext
from airlock.errors import AirlockError, BadRequest, Conflict
from airlock.packages import write
from airlock.packages.service import store_upload_blobs
from airlock.packages.upload import Upload
from airlock.uplink.guard import guard_new_name

MAX_PACKAGES = 100


def check_batch_size(count: int) -> None:
    if count == 0:
        raise BadRequest("The batch is empty: `packages` must hold at least one document.")
    if count > MAX_PACKAGES:
        raise BadRequest(f"A batch may hold at most {MAX_PACKAGES} packages; it has {count}.")


def label(upload: Upload) -> str:
    return f"{upload.name}@{upload.version}"


def blame(exc: AirlockError, what: str) -> AirlockError:
    """The same refusal (status, kind, OTP challenge), its message naming `what`."""
    if not exc.message.startswith(f"{what}: "):
        exc.message = f"{what}: {exc.message}"
        exc.args = (exc.message,)
    return exc


async def publish_batch(ctx: AppContext, principal: Principal, uploads: Sequence[Upload]) -> None:
    """Publish every upload or none. `uploads` are parsed publish documents."""
    check_batch_size(len(uploads))
    seen: set[str] = set()
    for upload in uploads:
        if upload.name in seen:
            raise BadRequest(f"{upload.name} appears twice in the batch: publish one version each.")
        seen.add(upload.name)
    # Row locks are taken in name order, so two batches sharing packages cannot deadlock.
    ordered = sorted(uploads, key=lambda u: u.name)
    await _authorize(ctx, principal, ordered)
    stored: list[write.Keys] = []
    try:
        for upload in ordered:
            stored.append(await store_upload_blobs(ctx, upload))
        written = await _write_rows(ctx, principal, ordered, stored)
    except BaseException:
        await write.forget(ctx, [key for keys in stored for key in keys])
        raise
    await write.forget(ctx, [key for w in written for key in w.freed])


async def _authorize(ctx: AppContext, principal: Principal, uploads: Sequence[Upload]) -> None:
    refs = []
    for upload in uploads:
        try:
            ref = await write.package_ref(ctx, principal, upload.name)
            check_access(principal, Action.PUBLISH, ref)
            if not ref.exists:
                await guard_new_name(ctx, upload.name)  # no local name may shadow an uplink one
        except AirlockError as exc:
            raise blame(exc, label(upload)) from None
        refs.append(ref)
    await require_all(ctx, principal, Action.PUBLISH, refs)


async def _write_rows(
    ctx: AppContext,
    principal: Principal,
    uploads: Sequence[Upload],
    stored: Sequence[write.Keys],
) -> list[write.Written]:
    written: list[write.Written] = []
    current = uploads[0]
    try:
        async with ctx.db.write() as session:
            for upload, keys in zip(uploads, stored, strict=True):
                current = upload
                written.append(
                    await write.write_version_rows(
                        ctx, session, principal, upload, keys, write.PUBLISH
                    )
                )
    except AirlockError as exc:
        raise blame(exc, label(current)) from None
    except IntegrityError as exc:
        raise Conflict(
            f"{label(current)} was published or staged at the same time by another request; "
            "nothing in the batch was published. Try again."
        ) from exc
    return written
