"""`airlock backup DEST`: a consistent copy of a laptop-style installation (SQLite + files).

Order matters: the database is copied first (SQLite's online backup API gives one
consistent snapshot while the server keeps running), then the blobs. Blobs are written
before the rows that use them, so every row of the snapshot has its blob already; the
only way one can be missing is a rejection, unpublish or expiry between the two steps,
which the final check reports. The generated secret key is copied too: without it the
two-factor secrets in the database cannot be decrypted. Restore: docs/operations.md.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from airlock.datafolder import KEY_FILE
from airlock.settings import Settings

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML file with settings.")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="Data folder [./airlock-data].")]
DbOpt = Annotated[str | None, typer.Option("--database-url", help="Database URL.")]


def backup(
    dest: Annotated[Path, typer.Argument(help="New (or empty) folder to write the backup to.")],
    config: ConfigOpt = None,
    data: DataOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Copy the SQLite database, the blob folder and the secret key to DEST."""
    from airlock.cli.common import console
    from airlock.cli.common import load_cli_settings as _settings

    settings = _settings(config, data=data, database_url=database_url)
    try:
        report = make_backup(settings, dest)
    except BackupRefused as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"backed up the database, {report.blobs} blob(s) and the secret key to {dest}")
    if report.missing:
        console.print(
            f"[yellow]warning:[/yellow] {len(report.missing)} blob(s) were deleted while "
            "copying (rejected or unpublished meanwhile); run the backup again for an exact copy"
        )
        raise typer.Exit(1)


class BackupRefused(Exception):
    pass


@dataclass(frozen=True)
class BackupReport:
    blobs: int
    missing: list[str]


def make_backup(settings: Settings, dest: Path) -> BackupReport:
    url = settings.effective_database_url
    if not url.startswith("sqlite"):
        raise BackupRefused(
            "airlock backup copies SQLite installations; back up PostgreSQL with pg_dump "
            "(see docs/operations.md, 'Backups')"
        )
    if settings.storage != "filesystem":
        raise BackupRefused(
            "airlock backup copies the filesystem blob store; back up an S3 bucket with "
            "bucket versioning or a sync to another bucket (see docs/operations.md)"
        )
    if dest.exists() and any(dest.iterdir()):
        raise BackupRefused(f"{dest} is not empty")
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    source = Path(url.split(":///", 1)[1])
    _copy_sqlite(source, dest / "airlock.db")
    blobs = settings.data / "blobs"
    copied = _copy_blobs(blobs, dest / "blobs")
    key = settings.data / KEY_FILE
    if key.exists():
        shutil.copy2(key, dest / KEY_FILE)
    missing = sorted(_referenced(dest / "airlock.db") - _files(dest / "blobs"))
    manifest = {
        "created_at": datetime.now(UTC).isoformat(),
        "database": "airlock.db",
        "blobs": copied,
        "secret_key_file": key.exists(),
        "missing": missing,
    }
    (dest / "backup.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return BackupReport(copied, missing)


def _copy_sqlite(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()
    target.chmod(0o600)


def _copy_blobs(source: Path, target: Path) -> int:
    count = 0
    target.mkdir(mode=0o700, exist_ok=True)
    if not source.exists():
        return 0
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.name.startswith(".tmp-"):
            continue
        out = target / path.relative_to(source)
        out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            shutil.copy2(path, out)
        except FileNotFoundError:
            continue  # collected meanwhile; the reference check below tells
        count += 1
    return count


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _referenced(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT blob_key, provenance_key FROM versions").fetchall()
    finally:
        conn.close()
    return {key for row in rows for key in row if key}
