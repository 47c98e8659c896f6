"""``datastreams demo`` in a subprocess: service, receiver and publisher in one real process."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from service_process import run_cli

pytestmark = pytest.mark.integration

PUBLISHED_LINE = re.compile(r"^Published (\d+) events in [\d.]+ s\.$", re.MULTILINE)
DELIVERED_LINE = re.compile(
    r"^Every stream had delivered its events [\d.]+ s after publishing began: \d+ events/s\.$",
    re.MULTILINE,
)
STREAM_LINE = re.compile(
    r"^  (?P<label>[\w-]+) +delivered (?P<delivered>\d+), received by the receiver "
    r"(?P<received>\d+), expected at least (?P<expected>\d+)$",
    re.MULTILINE,
)
PROGRESS_LINE = re.compile(
    r"^\[ *[\d.]+ s\] published +\d+/300 \| every-event: \d+ delivered, \d+ queued \| grades: ",
    re.MULTILINE,
)
# Both streams are created on the district before publishing, and the stream without
# filters also receives their two configuration events.
CONFIGURATION_EVENTS = 2


def stream_counts(stdout: str) -> dict[str, dict[str, int]]:
    """Return the summary's numbers per stream label."""
    return {
        match["label"]: {
            "delivered": int(match["delivered"]),
            "received": int(match["received"]),
            "expected": int(match["expected"]),
        }
        for match in STREAM_LINE.finditer(stdout)
    }


def run_demo(*args: str, timeout_s: float = 90.0) -> subprocess.CompletedProcess[str]:
    return run_cli("demo", *args, timeout_s=timeout_s)


@pytest.fixture(scope="module")
def finished() -> subprocess.CompletedProcess[str]:
    return run_demo("--events", "300", "--rate", "0", "--exit-when-done", "--timeout-s", "60")


def test_demo_exits_zero(finished: subprocess.CompletedProcess[str]) -> None:
    assert finished.returncode == 0, finished.stdout + finished.stderr


def test_demo_prints_api_and_key(finished: subprocess.CompletedProcess[str]) -> None:
    assert re.search(r"API +http://127\.0\.0\.1:\d+ +admin key dsa_\S+", finished.stdout)


def test_demo_publishes_every_event(finished: subprocess.CompletedProcess[str]) -> None:
    published = PUBLISHED_LINE.search(finished.stdout)

    assert published is not None, finished.stdout
    assert int(published[1]) == 300


def test_demo_reports_delivery_finished(finished: subprocess.CompletedProcess[str]) -> None:
    assert DELIVERED_LINE.search(finished.stdout), finished.stdout


def test_demo_every_event_stream_counts(finished: subprocess.CompletedProcess[str]) -> None:
    counts = stream_counts(finished.stdout)["every-event"]

    assert counts["expected"] == 300
    assert counts["delivered"] == 300 + CONFIGURATION_EVENTS
    assert counts["received"] == counts["delivered"]


def test_demo_filtered_stream_counts(finished: subprocess.CompletedProcess[str]) -> None:
    counts = stream_counts(finished.stdout)["grades"]

    assert 0 < counts["expected"] < 300
    assert counts["delivered"] == counts["expected"]
    assert counts["received"] == counts["delivered"]


def test_demo_progress_lines(finished: subprocess.CompletedProcess[str]) -> None:
    progress = PROGRESS_LINE.findall(finished.stdout)

    assert progress, finished.stdout


def test_demo_timeout_exits_one() -> None:
    # Ten events a second cannot publish 300 events in two seconds.
    timed_out = run_demo("--events", "300", "--rate", "10", "--exit-when-done", "--timeout-s", "2")

    assert timed_out.returncode == 1
    assert "timed out after 2 s" in timed_out.stderr
    assert "published only" in timed_out.stderr


def test_demo_reuses_database(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    arguments = ("--db", str(db), "--events", "100", "--rate", "0", "--exit-when-done")

    first = run_demo(*arguments, "--timeout-s", "60")
    second = run_demo(*arguments, "--timeout-s", "60")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert stream_counts(second.stdout)["every-event"]["delivered"] >= 100


def test_demo_rejects_negative_events() -> None:
    rejected = run_demo("--events", "-1")

    assert rejected.returncode == 2
    assert "--events" in rejected.stderr
