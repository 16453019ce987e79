"""Sign-in throttling: failed passwords or codes per account name and per client address.

After `web_signin_max_failures` failures within the window, that key is locked for
`web_signin_lock_seconds`. Stored in the database so every process sees the same count.
"""

from __future__ import annotations

from datetime import timedelta

from airlock.context import AppContext
from airlock.errors import TooManyRequests
from airlock.webauth.models import SignInThrottle

_WINDOW_SECONDS = 900


def keys(name: str, ip: str) -> list[str]:
    return [f"user:{name.lower()[:214]}", f"ip:{ip[:64]}"]


async def check(ctx: AppContext, keys: list[str]) -> None:
    now = ctx.clock.now()
    async with ctx.db.read() as session:
        for key in keys:
            row = await session.get(SignInThrottle, key)
            if row is not None and row.locked_until is not None and row.locked_until > now:
                minutes = max(1, int((row.locked_until - now).total_seconds() + 59) // 60)
                raise TooManyRequests(
                    f"Too many failed sign-ins. Try again in {minutes} minute(s)."
                )


async def failed(ctx: AppContext, keys: list[str]) -> None:
    now = ctx.clock.now()
    limit = ctx.settings.web_signin_max_failures
    async with ctx.db.write() as session:
        for key in keys:
            row = await session.get(SignInThrottle, key, with_for_update=True)
            if row is None:
                row = SignInThrottle(key=key, failures=0, window_start=now)
                session.add(row)
            if now - row.window_start > timedelta(seconds=_WINDOW_SECONDS):
                row.failures, row.window_start = 0, now
            row.failures += 1
            if row.failures >= limit:
                row.failures, row.window_start = 0, now
                row.locked_until = now + timedelta(seconds=ctx.settings.web_signin_lock_seconds)


async def succeeded(ctx: AppContext, name: str) -> None:
    async with ctx.db.write() as session:
        row = await session.get(SignInThrottle, keys(name, "")[0])
        if row is not None:
            await session.delete(row)
