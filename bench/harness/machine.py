"""Facts about the machine a run measured on, for the report."""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path
from typing import Any


def machine_facts() -> dict[str, Any]:
    """Return cores, CPU model, memory, Python and SQLite versions, and the load at the start."""
    return {
        "cores": os.cpu_count(),
        "cpuModel": _cpu_model(),
        "memoryMiB": _memory_mib(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "system": f"{platform.system()} {platform.release()}",
        "loadAverage": [round(value, 2) for value in os.getloadavg()],
    }


def _cpu_model() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return None


def _memory_mib() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None
