"""Airlock: a self-hosted npm registry with staged publishing."""

__version__ = "0.1.0"
