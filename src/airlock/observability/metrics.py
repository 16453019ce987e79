"""Prometheus metrics (names airlock_*), safe with many worker processes.

With PROMETHEUS_MULTIPROC_DIR set (`airlock serve` sets it to `metrics_dir`), every
process writes its samples to files there and a scrape of any worker sums them all
(prometheus-client's multiprocess mode). Without it (tests, embedded use) one registry per
process. The metric objects are made on first use, after `airlock serve` chose the mode:
the test fork server imports prometheus-client before any directory is set.

Domain counters (publishes, approvals, ...) come from audit events and are counted only
when the transaction that recorded them commits, so a rolled-back approval is not counted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event
from sqlalchemy.orm import Session

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Audit event name -> counter attribute.
_EVENT_COUNTERS = {
    "package:version:published": "publishes",
    "package:version:staged": "stages",
    "package:version:approved": "approvals",
    "package:version:rejected": "rejections",
    "package:version:expired": "expiries",
}


class _Metrics:
    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        # Pick the value class now, not at prometheus-client's import (see module docstring).
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        reg = None if self.multiprocess else CollectorRegistry()
        self.registry = reg
        self.requests = Counter(
            "airlock_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "airlock_http_request_duration_seconds",
            "HTTP request latency by route template and method.",
            ["route", "method"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=reg,
        )
        self.publishes = Counter(
            "airlock_publishes", "Versions made public by npm publish.", registry=reg
        )
        self.stages = Counter("airlock_stages_created", "Versions staged.", registry=reg)
        self.approvals = Counter("airlock_approvals", "Staged versions approved.", registry=reg)
        self.rejections = Counter("airlock_rejections", "Staged versions rejected.", registry=reg)
        self.expiries = Counter("airlock_expiries", "Staged versions expired.", registry=reg)
        self.webhooks = Counter(
            "airlock_webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, failed, ...).",
            ["outcome"],
            registry=reg,
        )
        self.uplink = Counter(
            "airlock_uplink_requests",
            "Uplink cache lookups by kind (packument, tarball) and result (hit, miss, stale, ...).",
            ["kind", "result"],
            registry=reg,
        )

    def exposition(self, extra: Iterable[GaugeMetricFamily]) -> bytes:
        registry = self.registry
        if registry is None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry) + generate_latest(_Fixed(list(extra)))


class _Fixed(CollectorRegistry):
    """A registry holding families computed at scrape time (from the database)."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        super().__init__(auto_describe=False)
        self._families = families

    def collect(self) -> Any:
        yield from self._families


_state: _Metrics | None = None


def _m() -> _Metrics:
    global _state
    if _state is None:
        _state = _Metrics()
    return _state


def prepare_multiprocess(directory: Path) -> None:
    """Called by `airlock serve` before any worker starts: a clean directory for this run."""
    if os.environ.get(MULTIPROC_ENV):
        return  # the operator chose one (and owns its clean-up)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    global _state
    _state = None


def request(route: str, method: str, status: int, seconds: float) -> None:
    m = _m()
    m.requests.labels(route, method, str(status)).inc()
    m.latency.labels(route, method).observe(seconds)


def uplink(kind: str, result: str) -> None:
    _m().uplink.labels(kind, result).inc()


def webhook_delivery(outcome: str) -> None:
    """For the webhook sender: count one delivery attempt ("delivered", "failed", ...)."""
    _m().webhooks.labels(outcome).inc()


def exposition(extra: Iterable[GaugeMetricFamily] = ()) -> bytes:
    return _m().exposition(extra)


def note_event(session: Any, name: str) -> None:
    """Remember an audit event on the session; counted if and when it commits."""
    if name in _EVENT_COUNTERS:
        session.info.setdefault("airlock_metric_events", []).append(name)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    names = session.info.pop("airlock_metric_events", None)
    if names:
        m = _m()
        for name in names:
            getattr(m, _EVENT_COUNTERS[name]).inc()


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    session.info.pop("airlock_metric_events", None)
