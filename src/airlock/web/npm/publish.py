"""npm wire routes: publish."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
