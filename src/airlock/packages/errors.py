"""Errors of the packages domain (mapped to HTTP by the one handler in airlock.web)."""

from __future__ import annotations

from airlock.errors import BadRequest, Conflict, Forbidden, NotFound


class InvalidPackage(BadRequest):
    """A publish body, name, version or tag that npmjs would refuse too."""


class VersionConflict(Forbidden):
    """Publishing over a version number that is (or was) published: npm's 403."""


class StagedVersionConflict(Conflict):
    """The version number is held by a pending stage."""


class PackageNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Not found: {name}")
