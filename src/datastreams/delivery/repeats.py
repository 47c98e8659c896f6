"""Logging of repeated identical errors with a count instead of once per event."""

from __future__ import annotations

import logging
import time
from typing import Any

# Identical messages within this window are counted instead of logged again.
REPEAT_WINDOW_S = 60.0


class RepeatedLog:
    """Logs a message the first time, then at most once per window with the repeat count."""

    def __init__(self, logger: logging.Logger, window_s: float = REPEAT_WINDOW_S) -> None:
        self._logger = logger
        self._window_s = window_s
        self._seen: dict[tuple[int, str], tuple[float, int]] = {}

    def log(self, level: int, message: str, extra: dict[str, Any]) -> None:
        key = (level, message)
        now = time.monotonic()
        first_at, suppressed = self._seen.get(key, (0.0, -1))

        if suppressed >= 0 and now - first_at < self._window_s:
            self._seen[key] = (first_at, suppressed + 1)
            return

        if suppressed > 0:
            message = f"{message} (repeated {suppressed} more times in {self._window_s:g} s)"
            extra = dict(extra, repeated=suppressed)
        self._logger.log(level, message, extra=extra)
        self._seen[key] = (now, 0)

        if len(self._seen) > 1000:
            # Bounded memory: forget the oldest entries; at worst one line is logged again.
            for stale in sorted(self._seen, key=lambda k: self._seen[k][0])[:500]:
                del self._seen[stale]
