"""The pure visibility rule: usable on cached facts, no database."""

from __future__ import annotations

import uuid

from airlock.authz.principal import Principal, TokenKind, TokenPermission, TokenScope, UserRef
from airlock.authz.visibility import PackageFacts, can_see, can_see_stage

ALICE = UserRef(id=uuid.uuid4(), name="alice", email=None, tfa_mode=None)
BOB = UserRef(id=uuid.uuid4(), name="bob", email=None, tfa_mode=None)


def who(user: UserRef | None, **limits: tuple[str, ...]) -> Principal:
    token = None
    if limits or user is not None:
        token = TokenScope(
            id=uuid.uuid4(),
            kind=TokenKind.GRANULAR,
            permission=TokenPermission.READ_ONLY,
            packages=limits.get("packages", ()),
            scopes=limits.get("scopes", ()),
        )
    return Principal(user=user, token=token, via="bearer" if user else "anonymous", client_ip="")


SECRET = PackageFacts.of("@alice/secret", "restricted", [ALICE.id])
PUBLIC = PackageFacts.of("pkg-a", "public", [ALICE.id])


def test_restricted_packages_are_for_their_maintainers():
    assert can_see(who(ALICE), SECRET)
    assert not can_see(who(BOB), SECRET)
    assert not can_see(Principal(user=None, token=None, via="anonymous", client_ip=""), SECRET)


def test_token_limits_restrict_reads_of_public_and_restricted_packages():
    assert not can_see(who(ALICE, packages=("pkg-a",)), SECRET)
    assert can_see(who(ALICE, packages=("pkg-a",)), PUBLIC)
    assert not can_see(who(ALICE, packages=("pkg-b",)), PUBLIC)
    assert can_see(who(ALICE, scopes=("@alice",)), SECRET)


def test_stages_are_for_maintainers_and_the_stager_within_limits():
    assert can_see_stage(who(ALICE), PUBLIC, None)
    assert not can_see_stage(who(BOB), PUBLIC, None)
    assert can_see_stage(who(BOB), PUBLIC, BOB.id)
    assert not can_see_stage(who(ALICE, packages=("pkg-b",)), PUBLIC, ALICE.id)
