"""The app factory worker processes of `airlock serve --workers N` import."""

from __future__ import annotations

import os

from fastapi import FastAPI

from airlock.bootstrap import build_context
from airlock.observability.logs import configure_logging
from airlock.settings import Settings
from airlock.web.app import create_app
from airlock.web.workers import SETTINGS_ENV


def app_from_environment() -> FastAPI:
    """One worker's app, from the settings the parent `airlock serve` resolved."""
    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    # A spawned worker starts with nothing configured: the same log set-up as the parent.
    configure_logging(settings.log_level, settings.log_format)
    return create_app(build_context(settings))
