"""A stage next to the version it would replace: the pair the risk signals and the diff use.

The compared version is, by default, the published version the stage's tag points at
(`latest` when the tag is new), or any published version the reviewer names. Callers pass
a StageInfo they got from queries.view_stage, which is where "may this caller see this
stage?" is answered.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.audit.events import Event
from airlock.audit.models import AuditEvent
from airlock.context import AppContext
from airlock.errors import NotFound
from airlock.oidc import repository as trust_repo
from airlock.packages import repository as packages_repo
from airlock.packages.models import Package, Version
from airlock.stage import provenance, signals, tarscan
from airlock.stage.repository import PUBLISHED
from airlock.stage.schemas import StageInfo
from airlock.storage.base import BlobMissing
from airlock.uplink import guard

log = logging.getLogger("airlock.review")


@dataclass(frozen=True)
class Stored:
    """What the registry itself recorded about one version (no client claims)."""

    version: str
    blob_key: str
    trusted_publisher: dict[str, Any] | None
    has_provenance: bool
    provenance_key: str | None = None

    @classmethod
    def of(cls, row: Version) -> Stored:
        npm_user = row.npm_user or {}
        tp = npm_user.get("trustedPublisher")
        return cls(
            version=row.version,
            blob_key=row.blob_key or "",
            trusted_publisher=tp if isinstance(tp, dict) else None,
            has_provenance=row.provenance_key is not None,
            provenance_key=row.provenance_key,
        )


@dataclass(frozen=True)
class Pair:
    info: StageInfo
    package_id: uuid.UUID
    staged: Stored
    compared: Stored | None


@dataclass(frozen=True)
class RiskReport:
    compared_to: str | None
    signals: list[signals.Signal]
    provenance: provenance.Check = provenance.NONE


async def pair(ctx: AppContext, info: StageInfo, against: str | None) -> Pair:
    async with ctx.db.read() as session:
        row = await session.get(Version, info.id)
        if row is None or row.blob_key is None:
            raise NotFound(f"Stage {info.id} not found.")
        compared = await _compared(session, row.package_id, info, against)
        return Pair(
            info=info,
            package_id=row.package_id,
            staged=Stored.of(row),
            compared=Stored.of(compared) if compared is not None else None,
        )


async def _compared(
    session: AsyncSession, package_id: uuid.UUID, info: StageInfo, against: str | None
) -> Version | None:
    if against is not None:
        found = await packages_repo.get_version(session, package_id, against)
        if found is None or found.state != PUBLISHED or found.blob_key is None:
            raise NotFound(f"{info.package}@{against} is not a published version.")
        return found
    tags = await packages_repo.dist_tags(session, package_id)
    target = tags.get(info.tag) or tags.get("latest")
    if target is None:
        return None
    found = await packages_repo.get_version(session, package_id, target)
    if found is None or found.state != PUBLISHED or found.blob_key is None:
        return None
    return found


async def assess(ctx: AppContext, info: StageInfo, against: str | None = None) -> RiskReport:
    """The risk signals of a stage (the caller has checked it may see it)."""
    p = await pair(ctx, info, against)
    staged_facts = await tarscan.facts(ctx.blobs, p.staged.blob_key)
    compared_facts = (
        await tarscan.facts(ctx.blobs, p.compared.blob_key) if p.compared is not None else None
    )
    added = signals.added_dependency_names(
        staged_facts.manifest, compared_facts.manifest if compared_facts else {}
    )
    async with ctx.db.read() as session:
        first = await _first_time(session, info)
        not_hosted, scopes = await _hosting(session, added)
    context = signals.Context(
        tag=info.tag,
        actor=info.actor,
        first_time_actor=first,
        not_hosted=frozenset(not_hosted),
        hosted_scopes=frozenset(scopes),
    )
    staged_side = _side(p.staged, staged_facts)
    compared_side = (
        _side(p.compared, compared_facts)
        if p.compared is not None and compared_facts is not None
        else None
    )
    checked = await _provenance(ctx, info, p)
    found = signals.compute(staged_side, compared_side, context) + provenance.signals(checked)
    found += await _upstream(ctx, info, p)
    return RiskReport(
        compared_to=p.compared.version if p.compared else None,
        signals=sorted(found, key=lambda s: signals.SEVERITY_ORDER[s.severity]),
        provenance=checked,
    )


async def _provenance(ctx: AppContext, info: StageInfo, p: Pair) -> provenance.Check:
    """Check the stage's bundle against its stored tarball and the trust relationships."""
    if p.staged.provenance_key is None:
        return provenance.NONE
    try:
        bundle = await ctx.blobs.read(p.staged.provenance_key)
    except BlobMissing:
        return provenance.Check(present=True, reason="the stored bundle cannot be read")
    tarball = await ctx.blobs.read(p.staged.blob_key)
    async with ctx.db.read() as session:
        rows = await trust_repo.relationships(session, p.package_id)
        trust = [provenance.Trust(r.provider, dict(r.claims)) for r in rows]
    return await provenance.check(
        bundle, tarball, info.package, info.version, trust, ctx.settings.provenance_trusted_root
    )


async def _upstream(ctx: AppContext, info: StageInfo, p: Pair) -> list[signals.Signal]:
    """A stage that would create the name here: did the uplink gain the name since it was
    reserved (protocols.md §4.4.3)? The name stays local either way; the reviewer is told.
    Best effort: an uplink that cannot be asked says so and never fails the review."""
    if ctx.settings.uplink_url is None:
        return []
    async with ctx.db.read() as session:
        earlier = await session.scalar(
            select(func.count())
            .select_from(Version)
            .where(
                Version.package_id == p.package_id,
                Version.state.in_((PUBLISHED, "unpublished")),
            )
        )
    if earlier:
        return []  # created (and checked) when its first version went live
    claim = await guard.upstream_claim(ctx, info.package)
    if claim is None or claim is False:
        return []
    if claim is True:
        return [
            signals.Signal(
                "name-exists-upstream",
                signals.HIGH,
                f"{info.package} now also exists on the uplink {ctx.settings.uplink_url}: "
                "after approval this registry's clients get this package and the uplink's "
                "clients another one of the same name (dependency confusion); the name "
                "stays local",
            )
        ]
    return [signals.Signal("upstream-not-checked", signals.INFO, f"upstream not checked: {claim}")]


def _side(stored: Stored, facts: tarscan.TarballFacts) -> signals.Side:
    return signals.Side(
        version=stored.version,
        facts=facts,
        trusted_publisher=stored.trusted_publisher,
        has_provenance=stored.has_provenance,
    )


async def _first_time(session: AsyncSession, info: StageInfo) -> bool:
    """Whether the audit log has no earlier stage or publish of this package by this actor."""
    if info.actor is None:
        return True
    earlier = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.package == info.package,
            AuditEvent.actor == info.actor,
            AuditEvent.event.in_([Event.VERSION_STAGED.value, Event.VERSION_PUBLISHED.value]),
            AuditEvent.version != info.version,
        )
    )
    return not earlier


async def _hosting(session: AsyncSession, names: set[str]) -> tuple[set[str], set[str]]:
    """Of `names`: those with no package here, and the scopes this registry hosts."""
    if not names:
        return set(), set()
    hosted = set((await session.scalars(select(Package.name).where(Package.name.in_(names)))).all())
    scopes = {n.split("/")[0] for n in names if n.startswith("@") and "/" in n}
    hosted_scopes: set[str] = set()
    if scopes:
        rows = await session.scalars(
            select(Package.scope).where(Package.scope.in_(scopes)).distinct()
        )
        hosted_scopes = {s for s in rows.all() if s}
    return names - hosted, hosted_scopes


async def view_fields_for(ctx: AppContext, info: StageInfo) -> dict[str, str]:
    """The risk lines `npm stage view` prints; a damaged blob must not break the view."""
    try:
        report = await assess(ctx, info)
    except (BlobMissing, tarscan.UnreadableTarball) as exc:
        log.warning("risk signals unavailable for stage %s: %s", info.id, exc)
        return {"riskSignals": "unavailable (the stored tarball cannot be read)"}
    return view_fields(report)


def view_fields(report: RiskReport) -> dict[str, str]:
    """Scalar fields for `npm stage view` (it prints each as a `key: value` line)."""
    counts: dict[str, int] = {}
    for s in report.signals:
        counts[s.severity] = counts.get(s.severity, 0) + 1
    summary = ", ".join(f"{n} {sev}" for sev, n in counts.items()) or "none"
    fields = {"riskSignals": summary, **report.provenance.view_fields()}
    for s in report.signals:
        fields[f"risk {s.id}"] = f"[{s.severity}] {s.reason}"
    return fields


async def published_versions(ctx: AppContext, info: StageInfo) -> list[str]:
    """The versions a reviewer may compare a stage with (newest published first)."""
    async with ctx.db.read() as session:
        row = await session.get(Version, info.id)
        if row is None:
            return []
        rows = await packages_repo.versions_in_state(session, row.package_id, PUBLISHED)
        return [v.version for v in reversed(rows) if v.blob_key is not None]
