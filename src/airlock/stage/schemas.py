"""What the stage domain hands to the web layer: plain frozen data, no ORM rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from airlock.oidc.providers import describe
from airlock.packages.models import Package, Version
from airlock.stage.review import Review


@dataclass(frozen=True)
class StageInfo:
    id: uuid.UUID
    package: str
    version: str
    tag: str
    access: str  # "public" | "restricted": what the version will be published as
    created_at: datetime
    expires_at: datetime
    actor: str | None
    actor_type: str | None
    # For trusted automation: the workflow that staged it (one line, npm prints scalars).
    workflow: str | None
    shasum: str
    integrity: str
    size: int
    blob_key: str | None
    # Only `npm stage view` computes it (one extra query); lists leave it out.
    review: Review | None = None
    # Four-eyes: set by approve() when an approval was recorded but more are needed.
    approvals: int = 0
    approvals_required: int = 0

    @classmethod
    def of(cls, version: Version, package: Package, review: Review | None = None) -> StageInfo:
        assert version.expires_at is not None
        return cls(
            id=version.id,
            package=package.name,
            version=version.version,
            tag=version.tag or "latest",
            # As publish does, an existing package keeps its access; a new name got the
            # requested one when staging created it.
            access=package.access,
            created_at=version.created_at,
            expires_at=version.expires_at,
            actor=version.actor,
            actor_type=version.actor_type,
            workflow=describe(version.actor_identity) if version.actor_identity else None,
            shasum=version.shasum,
            integrity=version.integrity,
            size=version.size,
            blob_key=version.blob_key,
            review=review,
        )


@dataclass(frozen=True)
class StagePage:
    items: list[StageInfo]
    total: int
    page: int
    per_page: int
