"""Errors of the uplink domain (mapped to HTTP by the one handler in airlock.web)."""

from __future__ import annotations

from airlock.errors import AirlockError, Conflict


class NameTakenUpstream(Conflict):
    """Creating a local name that the uplink already serves (dependency-confusion guard)."""


class UplinkUnavailable(AirlockError):
    """The uplink could not answer and nothing usable is cached."""

    status = 503


class UplinkBadTarball(AirlockError):
    """The uplink sent a tarball that does not match the integrity of its packument."""

    status = 502


class UplinkDown(Exception):
    """Internal: one uplink request failed (network, timeout, 5xx, garbage, open breaker)."""
