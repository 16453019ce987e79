"""Turning outbox rows into signed webhook calls, with retries, from any server process.

Every process runs `notifications_job`. Each step claims its rows with a conditional
UPDATE (outbox: `dispatched_at IS NULL`; deliveries: a lease in `locked_until`), so two
processes never send the same delivery at once, and a process killed mid-send leaves a
lease that lapses and another attempt is made: delivery is at-least-once, and the
receiver can de-duplicate on the delivery id (`X-Airlock-Delivery`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiosmtplib
import orjson
from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.accounts.models import User
from airlock.audit.events import Event, record
from airlock.audit.models import AuditEvent
from airlock.context import AppContext
from airlock.lazy import lazy_module
from airlock.notifications import email
from airlock.notifications.models import Delivery, OutboxEvent, PackageHook
from airlock.packages.models import Maintainer, Package, Version
from airlock.twofactor.encryption import cipher

if TYPE_CHECKING:
    import httpx
else:  # loaded on first use: ~4 MiB a server worker would carry from start-up
    httpx = lazy_module("httpx")

log = logging.getLogger("airlock.notifications")

POLL_SECONDS = 1.0
LEASE_SECONDS = 60
MAX_BACKOFF_SECONDS = 3600
BATCH = 20
TIMEOUT_SECONDS = 10.0
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def wants(events: list[str], event: str) -> bool:
    return "*" in events or event in events


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def link(ctx: AppContext, payload: dict[str, Any]) -> str:
    base = ctx.settings.base_url
    if payload.get("stageId"):
        return f"{base}/-/stage/{payload['stageId']}"
    return f"{base}/{payload.get('package') or ''}"


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


async def _targets(
    session: AsyncSession, ctx: AppContext, rows: list[OutboxEvent]
) -> list[Delivery]:
    """The deliveries of a batch of outbox rows: operator hooks, package hooks, and the
    maintainers' e-mail. Hooks and maintainers are read for the whole batch at once: a
    query per row made each round (100 rows, in the write transaction that on SQLite runs
    on the event loop) hold up reads for tens of milliseconds after a burst of publishes."""
    now = ctx.clock.now()
    names = sorted({row.package for row in rows if row.package})
    hooks = await _package_hooks(session, names)
    emails = await _maintainer_emails(session, names) if ctx.settings.smtp_host else {}
    found: list[Delivery] = []
    for row in rows:
        for hook in ctx.settings.webhooks:
            if wants(list(hook.get("events") or []), row.event):
                found.append(_delivery(row, f"operator:{hook['url']}", None, now))
        if not row.package:
            continue
        for h in hooks.get(row.package, []):
            # A hook hears of events from its creation on, not of older undelivered ones.
            if h.created_at <= row.created_at and wants(h.events, row.event):
                found.append(_delivery(row, f"hook:{h.id}", h.id, now))
        for address in emails.get(row.package, []):
            found.append(_delivery(row, f"email:{address}", None, now))
    return found


async def _package_hooks(session: AsyncSession, names: list[str]) -> dict[str, list[PackageHook]]:
    found: dict[str, list[PackageHook]] = {}
    if names:
        result = await session.execute(
            select(Package.name, PackageHook)
            .join(Package, Package.id == PackageHook.package_id)
            .where(Package.name.in_(names))
            .order_by(PackageHook.created_at, PackageHook.id)
        )
        for name, hook in result.all():
            found.setdefault(name, []).append(hook)
    return found


async def _maintainer_emails(session: AsyncSession, names: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if names:
        result = await session.execute(
            select(Package.name, User.email)
            .join(Maintainer, Maintainer.package_id == Package.id)
            .join(User, User.id == Maintainer.user_id)
            .where(Package.name.in_(names))
            .order_by(Maintainer.added_at, User.name)
        )
        for name, address in result.all():
            if address:
                found.setdefault(name, []).append(address)
    return found


def _delivery(row: OutboxEvent, target: str, hook_id: uuid.UUID | None, now: datetime) -> Delivery:
    return Delivery(
        outbox_id=row.id,
        target=target,
        hook_id=hook_id,
        state=PENDING,
        attempts=0,
        next_at=now,
        created_at=now,
    )


async def _any(ctx: AppContext, query: Any) -> bool:
    """Whether a write round has anything to do: asked in a read, so an idle round (most
    of them) never queues for the write lock that publishes need."""
    async with ctx.db.read(point=True) as session:
        return (await session.execute(query.limit(1))).first() is not None


async def dispatch(ctx: AppContext) -> int:
    """Fan new outbox rows out into deliveries (one per matching hook)."""
    undispatched = OutboxEvent.dispatched_at.is_(None)
    if not await _any(ctx, select(OutboxEvent.id).where(undispatched)):
        return 0
    done = 0
    async with ctx.db.write() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent).where(undispatched).order_by(OutboxEvent.created_at).limit(100)
            )
        ).all()
        # One conditional UPDATE claims the batch; RETURNING names the rows this
        # transaction won (another process may have claimed some meanwhile).
        won = set(
            (
                await session.scalars(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_([row.id for row in rows]), undispatched)
                    .values(dispatched_at=ctx.clock.now())
                    .returning(OutboxEvent.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        )
        mine = [row for row in rows if row.id in won]
        session.add_all(await _targets(session, ctx, mine))
        done = len(mine)
    return done


async def _claim(ctx: AppContext) -> list[tuple[Delivery, OutboxEvent]]:
    now = ctx.clock.now()
    claimed: list[tuple[Delivery, OutboxEvent]] = []
    due = select(Delivery.id).where(
        Delivery.state == PENDING,
        Delivery.next_at <= now,
        or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
    )
    if not await _any(ctx, due):
        return claimed
    async with ctx.db.write() as session:
        rows = (
            await session.execute(
                select(Delivery, OutboxEvent)
                .join(OutboxEvent, OutboxEvent.id == Delivery.outbox_id)
                .where(
                    Delivery.state == PENDING,
                    Delivery.next_at <= now,
                    or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
                )
                .order_by(Delivery.next_at)
                .limit(BATCH)
            )
        ).all()
        for delivery, event in rows:
            lease = now + timedelta(seconds=LEASE_SECONDS)
            won = await session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery.id,
                    Delivery.state == PENDING,
                    or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
                )
                .values(locked_until=lease)
            )
            if _rowcount(won) == 1:
                claimed.append((delivery, event))
    return claimed


async def _secret_and_url(ctx: AppContext, delivery: Delivery) -> tuple[str, str] | None:
    if delivery.target.startswith("operator:"):
        url = delivery.target.removeprefix("operator:")
        for configured in ctx.settings.webhooks:
            if configured.get("url") == url:
                return str(configured.get("secret") or ""), url
        return None  # removed from the settings since
    async with ctx.db.read() as session:
        hook = await session.get(PackageHook, delivery.hook_id) if delivery.hook_id else None
    if hook is None:
        return None
    return cipher(ctx.settings).decrypt(hook.secret_enc).decode(), hook.url


async def _send_one(
    ctx: AppContext, client: httpx.AsyncClient, delivery: Delivery, event: OutboxEvent
) -> None:
    if delivery.target.startswith("email:"):
        await _mail_one(ctx, delivery, event)
        return
    where = await _secret_and_url(ctx, delivery)
    status: int | None = None
    error: str | None = None
    if where is None:
        error = "the hook no longer exists"
    else:
        secret, url = where
        body = orjson.dumps({**event.payload, "link": link(ctx, event.payload)})
        timestamp = str(int(ctx.clock.now().timestamp()))
        headers = {
            "content-type": "application/json",
            "user-agent": "airlock-webhooks/1",
            "x-airlock-event": event.event,
            "x-airlock-delivery": str(delivery.id),
            "x-airlock-timestamp": timestamp,
            "x-airlock-signature": signature(secret, timestamp, body),
        }
        try:
            resp = await client.post(url, content=body, headers=headers)
            status = resp.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
    await _settle(ctx, delivery, status, error, gone=where is None)


async def _mail_one(ctx: AppContext, delivery: Delivery, event: OutboxEvent) -> None:
    error: str | None = None
    if not ctx.settings.smtp_host:
        await _settle(ctx, delivery, None, "e-mail is no longer configured", gone=True)
        return
    try:
        await email.send(
            ctx.settings,
            delivery.target.removeprefix("email:"),
            event.payload,
            link(ctx, event.payload),
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
    await _settle(ctx, delivery, None, error, gone=False)


async def _settle(
    ctx: AppContext, delivery: Delivery, status: int | None, error: str | None, *, gone: bool
) -> None:
    now = ctx.clock.now()
    attempts = delivery.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_status": status, "locked_until": None}
    if error is None:
        values.update(state=DELIVERED, delivered_at=now, last_error=None)
    else:
        backoff = min(ctx.settings.notify_retry_seconds * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
        final = gone or attempts >= ctx.settings.notify_max_attempts
        values.update(
            state=FAILED if final else PENDING,
            last_error=error,
            next_at=now + timedelta(seconds=backoff),
        )
        log.warning("webhook delivery %s failed (attempt %d): %s", delivery.id, attempts, error)
    async with ctx.db.write() as session:
        await session.execute(update(Delivery).where(Delivery.id == delivery.id).values(**values))


async def send_due(ctx: AppContext) -> int:
    claimed = await _claim(ctx)
    if not claimed:
        return 0
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        await asyncio.gather(*(_send_one(ctx, client, d, e) for d, e in claimed))
    return len(claimed)


async def announce_expiring(ctx: AppContext) -> int:
    """Record "expiring soon" once per stage, `notify_expiring_seconds` before it lapses."""
    now = ctx.clock.now()
    soon = now + timedelta(seconds=ctx.settings.notify_expiring_seconds)
    count = 0
    expiring = select(Version.id).where(
        Version.state == "staged", Version.expires_at > now, Version.expires_at <= soon
    )
    if not await _any(ctx, expiring):
        return 0
    async with ctx.db.write() as session:
        rows = (
            await session.execute(
                select(Version, Package.name)
                .join(Package, Package.id == Version.package_id)
                .where(
                    Version.state == "staged",
                    Version.expires_at > now,
                    Version.expires_at <= soon,
                )
                .limit(100)
            )
        ).all()
        for version, name in rows:
            told = await session.scalar(
                select(AuditEvent.id).where(
                    AuditEvent.event == Event.VERSION_EXPIRING.value,
                    AuditEvent.package == name,
                    AuditEvent.version == version.version,
                    AuditEvent.at >= version.created_at,
                )
            )
            if told is not None:
                continue
            assert version.expires_at is not None
            record(
                session,
                ctx.clock,
                Event.VERSION_EXPIRING,
                actor=None,
                package=name,
                version=version.version,
                stage_id=str(version.id),
                expires_at=version.expires_at.isoformat().replace("+00:00", "Z"),
            )
            count += 1
    return count


async def run_once(ctx: AppContext) -> None:
    await announce_expiring(ctx)
    await dispatch(ctx)
    await send_due(ctx)


async def notifications_job(ctx: AppContext) -> None:
    while True:
        try:
            await run_once(ctx)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A broken database moment must not end the job; it retries next tick.
            log.exception("notification delivery round failed")
        await asyncio.sleep(POLL_SECONDS)
