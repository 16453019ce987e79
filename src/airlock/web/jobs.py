"""Background jobs each server process runs (they must be safe to run in many processes)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from airlock.context import AppContext

BACKGROUND_JOBS: list[Callable[[AppContext], Coroutine[Any, Any, None]]] = []
