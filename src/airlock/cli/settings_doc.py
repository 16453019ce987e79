"""Describe every setting from the Settings model itself, so help and docs cannot drift."""

from __future__ import annotations

import json
from typing import Any

from airlock.settings import Settings


def _default(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def settings_rows() -> list[tuple[str, str, str, str]]:
    """(TOML key, environment variable, default, description) for every setting."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        rows.append((name, f"AIRLOCK_{name.upper()}", _default(default), field.description or ""))
    return rows


def settings_markdown() -> str:
    lines = ["| TOML key | Environment | Default | Meaning |", "|---|---|---|---|"]
    for key, env, default, desc in settings_rows():
        lines.append(f"| `{key}` | `{env}` | `{default}` | {desc} |")
    return "\n".join(lines)


def settings_text() -> str:
    return "\n".join(
        f"{key} ({env}, default {default}): {desc}" for key, env, default, desc in settings_rows()
    )
