"""What a browser-issued code is bound to, per kind of write (authz.second_factor)."""

from __future__ import annotations

import uuid

from airlock.authz.actions import Action
from airlock.authz.second_factor import Challenge, Purpose, describe, web_target
from airlock.twofactor.web_codes import ACCOUNT, ACTION_LENGTH, Target

USER = uuid.uuid4()


def test_each_write_binds_verb_target_and_action() -> None:
    publish = Challenge(USER, Action.PUBLISH, "t", "pkg", description="Publish pkg@1.0.0")
    assert web_target(publish) == Target("publish", "pkg", "Publish pkg@1.0.0")
    tag = Challenge(USER, Action.MANAGE, "t", "pkg", description="Add dist-tag b to pkg@1.0.0")
    assert web_target(tag) == Target("manage", "pkg", "Add dist-tag b to pkg@1.0.0")
    assert web_target(Challenge(USER, Action.GOVERN, "t", "pkg")) == Target(
        "govern", "pkg", "Change the settings of pkg"
    )
    token = Challenge(USER, Purpose.CREDENTIALS, "t", description="Create a token")
    assert web_target(token) == Target("credentials", ACCOUNT, "Create a token")
    # Stage decisions keep their binding: the decision and the stage id, no words.
    sid = str(uuid.uuid4())
    decide = Challenge(USER, Action.DECIDE, "t", "pkg", (sid,), "approve")
    assert web_target(decide) == Target("approve", sid)


def test_no_web_binding_for_login_or_a_batch_of_packages() -> None:
    assert web_target(Challenge(USER, Purpose.LOGIN, "password")) is None
    batch = Challenge(USER, Action.PUBLISH, "t", "a", ("a", "b"))
    assert web_target(batch) is None


def test_a_long_action_stays_distinct_within_the_column() -> None:
    owners = ", ".join(f"user{n}" for n in range(80))
    one = describe(Challenge(USER, Action.GOVERN, "t", "p", description=owners + ", x"))
    other = describe(Challenge(USER, Action.GOVERN, "t", "p", description=owners + ", y"))
    assert len(one) == len(other) == ACTION_LENGTH and one != other
