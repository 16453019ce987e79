"""Errors of the stage domain (the web layer maps them to npm's `{"error": ...}`)."""

from __future__ import annotations

from airlock.errors import BadRequest, Conflict, NotFound


class StageNotFound(NotFound):
    """Unknown, expired, decided, or not the caller's to know about: all look the same."""

    def __init__(self, stage_id: object) -> None:
        super().__init__(f"Staged package {stage_id} not found.")


class MalformedStageId(BadRequest):
    def __init__(self, raw: str) -> None:
        super().__init__(f"Stage id {raw!r} is not a UUID.")


class StageConflict(Conflict):
    """The stage cannot be decided (already decided, version taken, bytes changed)."""
