"""Scripts of status codes that the receiver responds with, such as ``503x3,200``.

Each comma-separated step is a status code with an optional repeat count (``503x3``
responds with 503 three times). The last step repeats for ever. A step may carry a
``Retry-After`` value in seconds after a colon: ``429:2x2,200``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

_STEP = re.compile(r"^(?P<status>[1-5]\d\d)(?::(?P<retry_after>\d+))?(?:x(?P<count>\d+))?$")


@dataclass(frozen=True, slots=True)
class ResponseStep:
    """One status code of a script, returned ``count`` times."""

    status: int
    count: int = 1
    retry_after_s: int | None = None


class ResponseScript:
    """Hands out the scripted status of each request in turn; safe to share between tasks."""

    def __init__(self, steps: list[ResponseStep]) -> None:
        if not steps:
            raise ValueError("a response script needs at least one step")
        self._steps = steps
        self._index = 0
        self._used = 0
        self._lock = threading.Lock()

    def next_step(self) -> ResponseStep:
        with self._lock:
            step = self._steps[self._index]
            self._used += 1
            is_last = self._index == len(self._steps) - 1
            if not is_last and self._used >= step.count:
                self._index += 1
                self._used = 0
            return step


def parse_response_script(text: str) -> ResponseScript:
    """Parse ``503x3,200``-style text; raise ValueError naming the invalid step."""
    steps: list[ResponseStep] = []

    for raw in text.split(","):
        step_text = raw.strip()
        match = _STEP.match(step_text)
        if match is None:
            raise ValueError(
                f"invalid response step {step_text!r}: expected STATUS[:RETRY_AFTER_S][xCOUNT], "
                "such as 503x3 or 429:2"
            )
        count = int(match["count"]) if match["count"] else 1
        if count < 1:
            raise ValueError(f"invalid response step {step_text!r}: the count must be at least 1")
        retry_after = int(match["retry_after"]) if match["retry_after"] else None
        steps.append(ResponseStep(int(match["status"]), count, retry_after))

    return ResponseScript(steps)
