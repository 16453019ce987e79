"""npm wire routes: profile."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
