"""Memory of the service process, read from ``/proc/<pid>/status`` (Linux only).

``VmHWM`` is the kernel's record of the peak resident set size, so the peak is exact
however rarely the sampler runs. ``VmRSS`` samples give the curve for the plots.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_INTERVAL_S = 0.5


def read_status_kib(pid: int, key: str) -> int | None:
    """Return one ``kB`` value (such as ``VmHWM``) of ``/proc/<pid>/status``, or None."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None

    prefix = f"{key}:"
    for line in text.splitlines():
        if line.startswith(prefix):
            return int(line.split()[1])
    return None


@dataclass(slots=True)
class RssSampler:
    """Samples a process's resident set size on a thread until stopped."""

    pid: int
    interval_s: float = SAMPLE_INTERVAL_S
    # (wall-clock time, resident set size in bytes)
    samples: list[tuple[float, int]] = field(default_factory=list)
    peak_bytes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> int:
        """Stop sampling and return the peak resident set size in bytes.

        Call it while the process still runs, or the kernel's peak is gone.
        """
        self._read_peak()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return self.peak_bytes

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            rss_kib = read_status_kib(self.pid, "VmRSS")
            if rss_kib is None:
                return
            self.samples.append((time.time(), rss_kib * 1024))

    def _read_peak(self) -> None:
        peak_kib = read_status_kib(self.pid, "VmHWM")
        if peak_kib is not None:
            self.peak_bytes = max(self.peak_bytes, peak_kib * 1024)
