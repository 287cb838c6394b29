"""A circuit breaker: after a failure, skip calls to that component for a few seconds.

A stopped Redis refuses at once, but a frozen or unreachable one answers only with a timeout.
Without a breaker every cache call and every publish of every request would wait out that
timeout; with one, a process pays it once per `open_seconds` (one caller tries, the others skip
meanwhile) and gets back to normal on the first call that succeeds.

State is per process (shared by its threads): each process finds out for itself, at the cost of
one timeout.
"""

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    def __init__(self, *, open_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failing = False
        self._closed_again_at = 0.0  # while failing: no call before this moment

    def allow(self) -> bool:
        """May the caller try the component now? While failing, one caller per period may."""
        with self._lock:
            if not self._failing:
                return True
            now = self._clock()
            if now < self._closed_again_at:
                return False
            # This caller is the trial; the others keep skipping until it has an answer.
            self._closed_again_at = now + self.open_seconds
            return True

    def succeeded(self) -> bool:
        """Record a success; True when this closed the breaker (to log the recovery once)."""
        with self._lock:
            closed, self._failing = self._failing, False
            return closed

    def failed(self) -> bool:
        """Record a failure; True when this opened the breaker (to log an outage once)."""
        with self._lock:
            opened = not self._failing
            self._failing = True
            self._closed_again_at = self._clock() + self.open_seconds
            return opened

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._failing and self._clock() < self._closed_again_at
