"""npm wire routes: stage."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
