"""Account operations: sign-up, password login, lookups."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from airlock.accounts.emails import checked_email
from airlock.accounts.models import User
from airlock.accounts.passwords import dummy_hash, hash_password, verify_password
from airlock.audit.events import Event, record
from airlock.context import AppContext
from airlock.errors import BadRequest, Conflict, TooManyRequests, Unauthorized

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,213}$")
MIN_PASSWORD = 8


def validate_username(name: str) -> None:
    if not _NAME.match(name):
        raise BadRequest(
            "Invalid user name: use 1-214 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"Password is too short: use at least {MIN_PASSWORD} characters.")


async def create_user(ctx: AppContext, name: str, password: str, email: str | None) -> User:
    validate_username(name)
    validate_password(password)
    email = checked_email(email) if email is not None else None
    password_hash = await hash_password(password, ctx.settings.password_hash_concurrency)
    now = ctx.clock.now()
    user = User(name=name, email=email, password_hash=password_hash, created_at=now, updated_at=now)
    try:
        async with ctx.db.write() as session:
            session.add(user)
            await session.flush()
            record(session, ctx.clock, Event.USER_CREATED, actor=name)
    except IntegrityError as exc:
        raise Conflict(f"User {name} already exists.") from exc
    return user


async def verify_credentials(
    ctx: AppContext,
    password: object,
    client_ip: str,
    *,
    name: str | None = None,
    user_id: uuid.UUID | None = None,
) -> User:
    """The one password check: the user (by name or id) if `password` is right.

    Unknown users and wrong passwords get the same error and timing (a dummy hash is
    verified). Failures are throttled per account and per client address: past the
    limits the answer is 429 with Retry-After, before any argon2 work is done.
    """
    throttles = ctx.throttles
    account_key = name if name is not None else str(user_id)
    wait = max(
        throttles.login_account.retry_after(account_key) or 0,
        throttles.login_address.retry_after(client_ip) or 0,
    )
    if wait:
        raise TooManyRequests(
            f"Too many failed logins; try again in {wait} seconds.", retry_after=wait
        )
    async with ctx.db.read() as session:
        if user_id is not None:
            user = await session.get(User, user_id)
        else:
            user = (
                await session.execute(select(User).where(User.name == name))
            ).scalar_one_or_none()
    stored = user.password_hash if user is not None else await dummy_hash()
    given = password if isinstance(password, str) else ""
    ok = await verify_password(stored, given, ctx.settings.password_hash_concurrency)
    if user is None or not ok or not isinstance(password, str):
        throttles.login_account.add(account_key)
        throttles.login_address.add(client_ip)
        if user_id is not None:
            raise Unauthorized("Incorrect or missing password.", challenge="Basic")
        raise Unauthorized("Incorrect username or password.", challenge="Basic")
    throttles.login_account.clear(account_key)
    return user


async def get_user(ctx: AppContext, name: str) -> User | None:
    async with ctx.db.read() as session:
        return (await session.execute(select(User).where(User.name == name))).scalar_one_or_none()
