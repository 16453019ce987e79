"""In-process throttles: failures within a sliding window, per key (stdlib only).

Used for failed logins (per account and per client address) and for the OIDC token
exchange. Each process keeps its own counts: behind several processes a client gets at
most `limit` tries per process and window, which still bounds online guessing.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class WindowCounter:
    """At most `limit` events per `window` seconds per key; least recently used keys are
    forgotten beyond `max_keys`, so memory stays bounded whatever the keys."""

    def __init__(
        self,
        limit: int,
        window: float,
        max_keys: int = 10_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._now = now
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _live(self, key: str) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = deque()
            self._events[key] = events
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        cutoff = self._now() - self.window
        while events and events[0] <= cutoff:
            events.popleft()
        return events

    def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may try again, or None if it may now."""
        events = self._live(key)
        if len(events) < self.limit:
            return None
        return max(1, math.ceil(events[0] + self.window - self._now()))

    def add(self, key: str) -> None:
        self._live(key).append(self._now())

    def hit(self, key: str) -> int | None:
        """Count one event unless over the limit: None if allowed, else the wait."""
        wait = self.retry_after(key)
        if wait is None:
            self.add(key)
        return wait

    def clear(self, key: str) -> None:
        self._events.pop(key, None)
