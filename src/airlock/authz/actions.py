"""What a caller can ask to do to a package."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    READ = "package:read"
    PUBLISH = "package:version:publish"
    STAGE = "package:version:stage"
    # Approve or reject a staged version.
    DECIDE = "package:version:approve"
    # dist-tag, deprecate, unpublish.
    MANAGE = "package:manage"
    # owner, access (visibility, mfa policy), trust relationships.
    GOVERN = "package:govern"


WRITES = frozenset({Action.PUBLISH, Action.STAGE, Action.DECIDE, Action.MANAGE, Action.GOVERN})
