"""npm wire routes: packages."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
