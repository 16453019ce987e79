"""One browser ceremony for one or more stage decisions: the second factor is checked once
and turned into a web code bound to exactly the chosen stage ids (twofactor.web_codes),
which then goes through the same decide path as `npm stage approve --otp=CODE`."""

from __future__ import annotations

import uuid

from airlock.authz.principal import UserRef
from airlock.context import AppContext
from airlock.errors import BadRequest
from airlock.stage.errors import MalformedStageId
from airlock.twofactor import totp
from airlock.twofactor.service import verify_code
from airlock.twofactor.web_codes import VERBS, Minted, mint

MAX_BATCH = 100


def stage_ids(raw: list[str]) -> list[uuid.UUID]:
    if not raw:
        raise BadRequest("Tick at least one staged version.")
    if len(raw) > MAX_BATCH:
        raise BadRequest(f"Decide at most {MAX_BATCH} staged versions at once.")
    ids: list[uuid.UUID] = []
    for value in raw:
        try:
            ids.append(uuid.UUID(value))
        except ValueError as exc:
            raise MalformedStageId(value) from exc
    return list(dict.fromkeys(ids))


def verb_of(raw: str) -> str:
    if raw not in VERBS:
        raise BadRequest("Choose Approve or Reject.")
    return raw


async def code_ceremony(
    ctx: AppContext, user: UserRef, code: str, verb: str, ids: list[uuid.UUID]
) -> Minted:
    """Check a TOTP or recovery code once; a web code for exactly `ids`."""
    normal = totp.normalise(code)
    await verify_code(ctx, user.id, normal)
    proof = "recovery" if totp.is_recovery_code(normal) else "totp"
    return await mint(ctx, user.id, verb, [str(i) for i in ids], proof)
