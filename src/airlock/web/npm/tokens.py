"""npm wire routes: tokens."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
