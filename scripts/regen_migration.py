"""Regenerate the initial migration from the models (pre-1.0 only: one migration).

Usage: .venv/bin/python scripts/regen_migration.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from airlock.db.migrate import MIGRATIONS, alembic_config

with tempfile.TemporaryDirectory() as tmp:
    url = f"sqlite+aiosqlite:///{tmp}/empty.db"
    for old in (MIGRATIONS / "versions").glob("*.py"):
        old.unlink()
    command.revision(
        alembic_config(url), message="initial schema", autogenerate=True, rev_id="0001"
    )
out = next((MIGRATIONS / "versions").glob("0001_*.py"))
subprocess.run([sys.executable, "-m", "ruff", "format", str(out)], check=False)
subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "-q", str(out)], check=False)
print(f"wrote {Path(out).name}")
