"""The back-off schedule of a stream whose destination fails.

Delays start at 1 s and double up to the stream's ``backoffMaxSeconds``, with full
jitter (a uniform draw between zero and the current ceiling) so that many streams
failing together do not retry in lockstep. A ``Retry-After`` from the destination is
honoured up to the same cap.
"""

from __future__ import annotations

import random

INITIAL_DELAY_S = 1.0


class Backoff:
    """Consecutive failures of one stream and the delay before its next attempt."""

    def __init__(self, max_delay_s: float, rng: random.Random | None = None) -> None:
        self.max_delay_s = max_delay_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self, retry_after_s: float | None = None) -> float:
        """Count one more failure and return how long to wait before the next attempt."""
        ceiling = min(self.max_delay_s, INITIAL_DELAY_S * 2.0**self.failures)
        self.failures += 1
        delay = self._rng.uniform(0.0, ceiling)

        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_delay_s))
        return delay

    def reset(self) -> None:
        self.failures = 0
