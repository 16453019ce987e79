"""Atomic multi-package publish (`pnpm publish --recursive --batch`): all or nothing.

Each document goes through exactly what one `npm publish` does (the same validation,
`authorize_publish`, `publish_rows`), only inside one transaction for the whole batch:
every check runs and every blob is written first, then the rows of every package are
written together, so a refusal of any one leaves none of them published and no blob
behind. A refusal names the package and version it is about.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from airlock.authz.principal import Principal
from airlock.context import AppContext
from airlock.errors import AirlockError, BadRequest, Conflict
from airlock.packages import service
from airlock.packages.upload import Upload

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
    for upload in ordered:
        try:
            await service.authorize_publish(ctx, principal, upload)
        except AirlockError as exc:
            raise blame(exc, label(upload)) from None
    written: list[str | None] = []
    try:
        keys = []
        for upload in ordered:
            pair = await service.store_upload_blobs(ctx, upload)
            written.extend(pair)
            keys.append(pair)
        freed = await _write_rows(ctx, principal, ordered, keys)
    except BaseException:
        await service.discard_blobs(ctx, *written)
        raise
    await service.discard_blobs(ctx, *freed)


async def _write_rows(
    ctx: AppContext,
    principal: Principal,
    uploads: Sequence[Upload],
    keys: Sequence[tuple[str, str | None]],
) -> list[str | None]:
    freed: list[str | None] = []
    current = uploads[0]
    try:
        async with ctx.db.write() as session:
            for upload, pair in zip(uploads, keys, strict=True):
                current = upload
                freed += await service.publish_rows(ctx, session, principal, upload, pair)
    except AirlockError as exc:
        raise blame(exc, label(current)) from None
    except IntegrityError as exc:
        raise Conflict(
            f"{label(current)} was published or staged at the same time by another request; "
            "nothing in the batch was published. Try again."
        ) from exc
    return freed
