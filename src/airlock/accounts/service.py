"""Account operations: sign-up, password login, lookups."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from airlock.accounts.emails import checked_email
from airlock.accounts.models import User
from airlock.accounts.passwords import DUMMY_HASH, hash_password, verify_password
from airlock.audit.events import Event, record
from airlock.context import AppContext
from airlock.errors import BadRequest, Conflict, Unauthorized

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
    password_hash = await hash_password(password)
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


async def check_password(ctx: AppContext, name: str, password: str) -> User:
    """The user if the password is right; the same error (and timing) otherwise."""
    async with ctx.db.read() as session:
        user = (await session.execute(select(User).where(User.name == name))).scalar_one_or_none()
    ok = await verify_password(user.password_hash if user else DUMMY_HASH, password)
    if user is None or not ok:
        raise Unauthorized("Incorrect username or password.", challenge="Basic")
    return user


async def get_user(ctx: AppContext, name: str) -> User | None:
    async with ctx.db.read() as session:
        return (await session.execute(select(User).where(User.name == name))).scalar_one_or_none()
