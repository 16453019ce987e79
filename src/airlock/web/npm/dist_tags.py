"""npm wire routes: dist_tags."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
