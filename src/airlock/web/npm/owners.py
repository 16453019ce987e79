"""npm wire routes: owners."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
