"""Tables of the browser side: web sessions, sign-in throttling, web login/2FA requests."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from airlock.db.base import Base, new_id


class WebSession(Base):
    """A browser session. The cookie holds a random secret; only its keyed hash is here."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Public handle for the sessions page ("end this session"), never the cookie value.
    handle: Mapped[uuid.UUID] = mapped_column(default=new_id, unique=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Password accepted, second factor still to come.
    pending_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(255))


class SignInThrottle(Base):
    """Failed sign-ins per account name and per client address."""

    __tablename__ = "web_signin_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class WebAuthRequest(Base):
    """One npm web flow: a login (loginUrl) or a second-factor challenge (authUrl).

    `auth_hash` is the hash of the browser-side secret, `done_hash` of the doneUrl one;
    the result (a login token or a web code) is kept encrypted until it is fetched once.
    """

    __tablename__ = "web_auth_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    auth_hash: Mapped[str] = mapped_column(String(64), unique=True)
    done_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # login | adduser, or a challenge's verb (twofactor.web_codes.VERBS)
    kind: Mapped[str] = mapped_column(String(16))
    # For challenges: the account that must answer. For logins: who answered.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The challenged stage id, package name or "account".
    target: Mapped[str | None] = mapped_column(String(255))
    # For a write other than a stage decision: the action in words ("Publish pkg@1.0.0").
    action: Mapped[str | None] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|ready|taken
    result_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
