"""Passkeys (WebAuthn, py_webauthn) as a second factor: registration, assertions, storage.

Challenges are stored server-side, single use (deleted when checked), two minutes. The
relying party is the host of `public_url`, or `localhost` on a laptop (browsers refuse IP
addresses as an rp id). A sign-count that does not grow (when either count is non-zero) is
refused as a possible cloned authenticator. Approvals require user verification.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import ForeignKey, LargeBinary, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from airlock.context import AppContext
from airlock.db.base import Base, new_id
from airlock.errors import BadRequest, Conflict
from airlock.settings import Settings
from airlock.twofactor.errors import InvalidOtp
from airlock.webauth.secrets import digest, new_secret

if TYPE_CHECKING:  # the library is imported where used (~6 MiB on top of cryptography)
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

CHALLENGE_SECONDS = 120
MAX_CREDENTIAL_JSON = 16 * 1024


class Passkey(Base):
    __tablename__ = "passkeys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(default=0)
    transports: Mapped[list[str]] = mapped_column(default=list)
    label: Mapped[str] = mapped_column(String(100))
    device_type: Mapped[str] = mapped_column(String(32))
    backed_up: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class PasskeyChallenge(Base):
    __tablename__ = "passkey_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # keyed hash of the handle
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))  # register | assert
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime]


@dataclass(frozen=True)
class PasskeyInfo:
    id: uuid.UUID
    label: str
    created_at: datetime
    last_used_at: datetime | None
    transports: list[str]


def relying_party(settings: Settings) -> tuple[str, str]:
    """(rp id, expected origin)."""
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"
    return "localhost", f"http://localhost:{settings.port}"


async def _store_challenge(
    ctx: AppContext, user_id: uuid.UUID, purpose: str, challenge: bytes
) -> str:
    handle = new_secret()
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        await session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at <= now))
        session.add(
            PasskeyChallenge(
                id=digest(ctx.settings, "passkey-challenge", handle),
                user_id=user_id,
                purpose=purpose,
                challenge=challenge,
                expires_at=now + timedelta(seconds=CHALLENGE_SECONDS),
            )
        )
    return handle


async def _take_challenge(ctx: AppContext, user_id: uuid.UUID, purpose: str, handle: str) -> bytes:
    """The challenge, deleted in the same transaction: a second use finds nothing."""
    key = digest(ctx.settings, "passkey-challenge", handle)
    async with ctx.db.write() as session:
        row = await session.get(PasskeyChallenge, key, with_for_update=True)
        if row is not None:
            await session.delete(row)
    if (
        row is None
        or row.user_id != user_id
        or row.purpose != purpose
        or row.expires_at <= ctx.clock.now()
    ):
        raise InvalidOtp("That passkey request has expired or was already used.")
    return row.challenge


async def _user_passkeys(ctx: AppContext, user_id: uuid.UUID) -> list[Passkey]:
    async with ctx.db.read() as session:
        rows = await session.execute(
            select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at)
        )
        return list(rows.scalars())


def _descriptor(p: Passkey) -> PublicKeyCredentialDescriptor:
    from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

    transports = []
    for t in p.transports:
        try:
            transports.append(AuthenticatorTransport(t))
        except ValueError:
            continue
    return PublicKeyCredentialDescriptor(id=p.credential_id, transports=transports)


async def registration_options(
    ctx: AppContext, user_id: uuid.UUID, name: str
) -> tuple[str, dict[str, Any]]:
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    rp_id, _ = relying_party(ctx.settings)
    existing = await _user_passkeys(ctx, user_id)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name="Airlock",
        user_name=name,
        user_id=user_id.bytes,
        challenge=secrets.token_bytes(32),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(p) for p in existing],
    )
    handle = await _store_challenge(ctx, user_id, "register", options.challenge)
    return handle, json.loads(options_to_json(options))


def _credential(raw: str) -> dict[str, Any]:
    if len(raw) > MAX_CREDENTIAL_JSON:
        raise BadRequest("The passkey response is too large.")
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise BadRequest("The passkey response is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise BadRequest("The passkey response is not valid.")
    return value


async def register(
    ctx: AppContext, user_id: uuid.UUID, handle: str, raw: str, label: str
) -> PasskeyInfo:
    from webauthn import verify_registration_response
    from webauthn.helpers.exceptions import WebAuthnException

    label = label.strip()[:100]
    if not label:
        raise BadRequest("Give the passkey a name (for example the device it lives on).")
    credential = _credential(raw)
    challenge = await _take_challenge(ctx, user_id, "register", handle)
    rp_id, origin = relying_party(ctx.settings)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    except WebAuthnException as exc:
        raise BadRequest(f"The passkey could not be registered: {exc}") from exc
    response = credential.get("response")
    transports = response.get("transports", []) if isinstance(response, dict) else []
    now = ctx.clock.now()
    row = Passkey(
        user_id=user_id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(t) for t in transports if isinstance(t, str)][:8],
        label=label,
        device_type=str(verified.credential_device_type.value),
        backed_up=verified.credential_backed_up,
        created_at=now,
    )
    try:
        async with ctx.db.write() as session:
            session.add(row)
    except IntegrityError as exc:
        raise Conflict("That passkey is already registered.") from exc
    return PasskeyInfo(row.id, row.label, row.created_at, None, row.transports)


async def list_passkeys(ctx: AppContext, user_id: uuid.UUID) -> list[PasskeyInfo]:
    return [
        PasskeyInfo(p.id, p.label, p.created_at, p.last_used_at, list(p.transports))
        for p in await _user_passkeys(ctx, user_id)
    ]


async def has_passkeys(ctx: AppContext, user_id: uuid.UUID) -> bool:
    return bool(await _user_passkeys(ctx, user_id))


async def remove(ctx: AppContext, user_id: uuid.UUID, passkey_id: uuid.UUID) -> bool:
    async with ctx.db.write() as session:
        gone = await session.execute(
            delete(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user_id)
        )
        return bool(gone.rowcount)  # type: ignore[attr-defined]


async def assertion_options(ctx: AppContext, user_id: uuid.UUID) -> tuple[str, dict[str, Any]]:
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import UserVerificationRequirement

    rp_id, _ = relying_party(ctx.settings)
    keys = await _user_passkeys(ctx, user_id)
    if not keys:
        raise BadRequest("This account has no passkey. Add one on the account page.")
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=secrets.token_bytes(32),
        allow_credentials=[_descriptor(p) for p in keys],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    handle = await _store_challenge(ctx, user_id, "assert", options.challenge)
    return handle, json.loads(options_to_json(options))


async def verify_passkey(
    ctx: AppContext, user_id: uuid.UUID, handle: str, raw: str, *, require_uv: bool = True
) -> None:
    """Accept one assertion from one of the user's passkeys, or raise InvalidOtp."""
    from webauthn import verify_authentication_response
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.exceptions import WebAuthnException

    credential = _credential(raw)
    challenge = await _take_challenge(ctx, user_id, "assert", handle)
    raw_id = credential.get("rawId") or credential.get("id")
    try:
        credential_id = base64url_to_bytes(str(raw_id))
    except ValueError as exc:
        raise InvalidOtp("That passkey response is malformed.") from exc
    rp_id, origin = relying_party(ctx.settings)
    async with ctx.db.write() as session:
        key = (
            await session.execute(
                select(Passkey)
                .where(Passkey.credential_id == credential_id, Passkey.user_id == user_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if key is None:
            raise InvalidOtp("That passkey is not registered to this account.")
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=key.public_key,
                credential_current_sign_count=key.sign_count,
                require_user_verification=require_uv,
            )
        except WebAuthnException as exc:
            # Includes a sign count that did not grow (a cloned authenticator).
            raise InvalidOtp(f"The passkey was refused: {exc}.") from exc
        key.sign_count = verified.new_sign_count
        key.last_used_at = ctx.clock.now()
