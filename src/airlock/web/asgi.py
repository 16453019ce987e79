"""The app factory worker processes of `airlock serve --workers N` import."""

from __future__ import annotations

import os

from fastapi import FastAPI

from airlock.bootstrap import build_context
from airlock.settings import Settings
from airlock.web.app import create_app

# Not AIRLOCK_*: the settings loader must not read it as a setting.
SETTINGS_ENV = "AIRLOCKD_SERVE_SETTINGS"


def worker_count(settings: Settings) -> int:
    return settings.workers or os.cpu_count() or 1


def app_from_environment() -> FastAPI:
    """One worker's app, from the settings the parent `airlock serve` resolved."""
    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    return create_app(build_context(settings))
