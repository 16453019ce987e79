"""`airlock import verdaccio PATH`: users, packages, versions, tarballs, tags and times.

Idempotent and resumable: every user and every package is its own transaction, and what
is already here (same name, same version with the same integrity) is skipped, so a second
run changes nothing and an interrupted run continues where it stopped. Problems are
collected in the report instead of stopping the run (a broken folder gives a report).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import orjson
from sqlalchemy import select

from airlock.accounts.models import User
from airlock.accounts.passwords import BCRYPT_PREFIXES
from airlock.context import AppContext
from airlock.packages import blobs
from airlock.packages import repository as repo
from airlock.packages.models import Maintainer, Package, Version
from airlock.packages.names import name_problem, scope_of, tarball_filename
from airlock.packages.service import touch
from airlock.storage.base import tarball_key
from airlock.uplink.documents import matches_integrity

# A hash no password matches: users whose htpasswd hash Airlock cannot check must reset.
UNUSABLE_HASH = "!imported-without-a-usable-password"


@dataclass
class Report:
    users_created: list[str] = field(default_factory=list)
    users_skipped: list[str] = field(default_factory=list)
    users_without_password: list[str] = field(default_factory=list)
    packages_created: list[str] = field(default_factory=list)
    versions_imported: int = 0
    versions_skipped: int = 0
    packages_without_owner: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"users created: {len(self.users_created)} {' '.join(self.users_created)}".rstrip(),
            f"users already present: {len(self.users_skipped)}",
            "users without a usable password (reset needed): "
            f"{len(self.users_without_password)} {' '.join(self.users_without_password)}".rstrip(),
            f"packages created: {len(self.packages_created)}",
            f"versions imported: {self.versions_imported}",
            f"versions already present: {self.versions_skipped}",
            "packages without an owner (nobody can publish them; use --owner): "
            f"{len(self.packages_without_owner)} {' '.join(self.packages_without_owner)}".rstrip(),
            f"problems: {len(self.problems)}",
            *(f"  - {p}" for p in self.problems),
        ]


def locate(path: Path) -> tuple[Path | None, Path | None]:
    """(storage folder, htpasswd file) of a Verdaccio folder, or of its storage folder."""
    storage = path / "storage" if (path / "storage").is_dir() else path
    htpasswd = next(
        (p for p in (path / "htpasswd", storage.parent / "htpasswd") if p.is_file()), None
    )
    return (storage if storage.is_dir() else None), htpasswd


async def import_verdaccio(
    ctx: AppContext, path: Path, htpasswd: Path | None = None, owner: str | None = None
) -> Report:
    """`owner`: maintainer for packages whose files name none (Verdaccio 6 records none)."""
    report = Report()
    storage, found = locate(path)
    htpasswd = htpasswd or found
    if htpasswd is None:
        report.problems.append(f"no htpasswd file found in {path} (no users imported)")
    else:
        await _import_users(ctx, htpasswd, report)
    if owner is not None and not await _exists(ctx, owner):
        report.problems.append(f"--owner {owner}: no such user (import it or create it first)")
        owner = None
    if storage is None:
        report.problems.append(f"{path} is not a folder")
        return report
    for doc_path in _package_files(storage):
        try:
            await _import_package(ctx, doc_path, report, owner)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"{doc_path.parent.relative_to(storage)}: {exc}")
    return report


def _package_files(storage: Path) -> list[Path]:
    found = []
    for entry in sorted(storage.iterdir()):
        if entry.name.startswith("@") and entry.is_dir():
            found += [
                p / "package.json"
                for p in sorted(entry.iterdir())
                if (p / "package.json").is_file()
            ]
        elif (entry / "package.json").is_file():
            found.append(entry / "package.json")
    return found


async def _import_users(ctx: AppContext, htpasswd: Path, report: Report) -> None:
    try:
        lines = (await anyio.Path(htpasswd).read_text(errors="replace")).splitlines()
    except OSError as exc:
        report.problems.append(f"cannot read {htpasswd}: {exc}")
        return
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, rest = line.partition(":")
        hashed = rest.split(":", 1)[0]
        if not sep or not name or name_problem(name) is not None:
            report.problems.append(f"htpasswd line {number}: not a user entry")
            continue
        usable = hashed.startswith(BCRYPT_PREFIXES) or hashed.startswith("$argon2")
        async with ctx.db.write() as session:
            if await _user(session, name) is not None:
                report.users_skipped.append(name)
                continue
            now = ctx.clock.now()
            session.add(
                User(
                    name=name,
                    email=None,
                    password_hash=hashed if usable else UNUSABLE_HASH,
                    created_at=now,
                    updated_at=now,
                )
            )
        report.users_created.append(name)
        if not usable:
            report.users_without_password.append(name)


async def _user(session: Any, name: str) -> User | None:
    found = await session.execute(select(User).where(User.name == name))
    user: User | None = found.scalar_one_or_none()
    return user


async def _exists(ctx: AppContext, name: str) -> bool:
    async with ctx.db.read() as session:
        return await _user(session, name) is not None


async def _import_package(
    ctx: AppContext, doc_path: Path, report: Report, owner: str | None
) -> None:
    doc = orjson.loads(await anyio.Path(doc_path).read_bytes())
    name = doc.get("name")
    if not isinstance(name, str) or name_problem(name) is not None:
        raise ValueError(f"package.json has no valid name ({name!r})")
    versions: dict[str, Any] = doc.get("versions") or {}
    times: dict[str, Any] = doc.get("time") or {}
    # Blobs first (content-addressed, so a re-run or a crash leaves nothing wrong), claimed
    # and held as every writer does (packages/blobs.py).
    ready: dict[str, tuple[dict[str, Any], bytes]] = {}
    stored: dict[str, bytes] = {}
    for number, manifest in versions.items():
        data = _tarball(doc_path.parent, name, number, manifest, report)
        if data is not None:
            ready[number] = (manifest, data)
            key = tarball_key(hashlib.sha512(data).hexdigest())
            await blobs.claim(ctx, [key])
            if not await ctx.blobs.exists(key):
                await ctx.blobs.put(key, data)
            stored[key] = data
    async with ctx.db.write() as session:
        await blobs.hold(ctx, session, stored)
        package = await repo.get_package(session, name)
        if package is None:
            package = await _new_package(ctx, session, name, doc, times)
            report.packages_created.append(name)
        changed = False
        for number, (manifest, data) in ready.items():
            existing = await repo.get_version(session, package.id, number)
            if existing is not None:
                report.versions_skipped += 1
                if existing.integrity != _sri(data):
                    report.problems.append(f"{name}@{number}: differs from the version here; kept")
                continue
            session.add(_version_row(package, number, manifest, data, times, ctx))
            report.versions_imported += 1
            changed = True
        await session.flush()
        changed = await _owners_and_tags(session, package, doc, ready, owner) or changed
        if not await repo.maintainer_names(session, package.id):
            report.packages_without_owner.append(name)
        if changed:
            await touch(ctx, session, package)


def _tarball(folder: Path, name: str, number: str, manifest: Any, report: Report) -> bytes | None:
    dist = manifest.get("dist") if isinstance(manifest, dict) else None
    if not isinstance(dist, dict):
        report.problems.append(f"{name}@{number}: no dist in package.json; skipped")
        return None
    filename = str(dist.get("tarball", "")).rsplit("/", 1)[-1] or tarball_filename(name, number)
    path = folder / filename
    if not path.is_file() or path.resolve().parent != folder.resolve():
        report.problems.append(f"{name}@{number}: tarball {filename} missing; skipped")
        return None
    data = path.read_bytes()
    if not matches_integrity(data, dist.get("integrity"), dist.get("shasum")):
        report.problems.append(f"{name}@{number}: tarball does not match its integrity; skipped")
        return None
    return data


async def _new_package(
    ctx: AppContext, session: Any, name: str, doc: dict[str, Any], times: dict[str, Any]
) -> Package:
    created = _time(times.get("created")) or ctx.clock.now()
    package = Package(
        id=uuid.uuid4(),
        name=name,
        scope=scope_of(name),
        # Verdaccio has no per-package visibility; its access rules are not imported.
        access="public",
        mfa_policy="none",
        created_at=created,
        modified_at=created,
        rev=1,
        keywords=[],
    )
    session.add(package)
    await session.flush()
    return package


def _version_row(
    package: Package,
    number: str,
    manifest: dict[str, Any],
    data: bytes,
    times: dict[str, Any],
    ctx: AppContext,
) -> Version:
    published = _time(times.get(number)) or ctx.clock.now()
    clean = {k: v for k, v in manifest.items() if k not in ("dist", "_id", "maintainers")}
    deprecated = manifest.get("deprecated") if isinstance(manifest.get("deprecated"), str) else None
    npm_user = manifest.get("_npmUser") if isinstance(manifest.get("_npmUser"), dict) else None
    dist = manifest["dist"]
    return Version(
        id=uuid.uuid4(),
        package_id=package.id,
        version=number,
        state="published",
        manifest=clean,
        blob_key=tarball_key(hashlib.sha512(data).hexdigest()),
        shasum=hashlib.sha1(data).hexdigest(),  # noqa: S324 (npm's shasum)
        integrity=_sri(data),
        size=len(data),
        file_count=dist.get("fileCount") if isinstance(dist.get("fileCount"), int) else None,
        unpacked_size=dist.get("unpackedSize")
        if isinstance(dist.get("unpackedSize"), int)
        else None,
        created_at=published,
        published_at=published,
        deprecated=deprecated,
        npm_user=npm_user,
        tag=None,
    )


async def _owners_and_tags(
    session: Any, package: Package, doc: dict[str, Any], ready: dict[str, Any], owner: str | None
) -> bool:
    changed = False
    names: list[str] = []
    for entry in doc.get("maintainers") or []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            names.append(entry["name"])
    for manifest, _ in ready.values():
        for entry in manifest.get("maintainers") or []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                names.append(entry["name"])
        user = manifest.get("_npmUser")
        if isinstance(user, dict) and isinstance(user.get("name"), str):
            names.append(user["name"])
    if not names and owner is not None:
        names.append(owner)
    for name in dict.fromkeys(names):
        user = await _user(session, name)
        if user is not None and not await repo.is_maintainer(session, package.id, user.id):
            session.add(
                Maintainer(package_id=package.id, user_id=user.id, added_at=package.created_at)
            )
            changed = True
    current = await repo.dist_tags(session, package.id)
    for tag, version in (doc.get("dist-tags") or {}).items():
        if (
            isinstance(version, str)
            and current.get(tag) != version
            and await repo.get_version(session, package.id, version) is not None
        ):
            await repo.set_dist_tag(session, package.id, tag, version)
            changed = True
    return changed


def _sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
