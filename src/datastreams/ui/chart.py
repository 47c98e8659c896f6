"""The chart of a stream's page: delivered and failed events per minute, drawn as inline SVG.

``build_chart`` turns the per-minute statistics into bar geometry in SVG user units,
and the template draws it, so the page needs no charting library or script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 960
HEIGHT = 220
MARGIN_LEFT = 44
MARGIN_RIGHT = 8
MARGIN_TOP = 10
MARGIN_BOTTOM = 26
# Space between two bars, as a share of one minute's width.
BAR_GAP_SHARE = 0.2
X_LABEL_EVERY_MINUTES = 15


@dataclass(frozen=True, slots=True)
class ChartBar:
    """One minute: a delivered bar with the failed bar stacked on top of it."""

    x: float
    width: float
    delivered_y: float
    delivered_height: float
    failed_y: float
    failed_height: float
    label: str


@dataclass(frozen=True, slots=True)
class ChartTick:
    """A label on an axis at ``position`` (x for the time axis, y for the count axis)."""

    position: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything the template needs to draw the chart and describe it to screen readers."""

    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    bars: list[ChartBar]
    x_ticks: list[ChartTick]
    y_ticks: list[ChartTick]
    delivered: int
    failed: int
    minutes: int

    @property
    def summary(self) -> str:
        return (
            f"{self.delivered} events delivered and {self.failed} failed "
            f"in the last {self.minutes} minutes"
        )


def nice_maximum(value: int) -> int:
    """Return the smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``value``."""
    ceiling = 1
    while True:
        for step in (1, 2, 5):
            if ceiling * step >= value:
                return ceiling * step
        ceiling *= 10


def build_chart(items: Sequence[Mapping[str, Any]]) -> Chart:
    """Lay out the bars of per-minute statistics (``minute``, ``delivered``, ``failed``)."""
    plot_left = float(MARGIN_LEFT)
    plot_right = float(WIDTH - MARGIN_RIGHT)
    plot_top = float(MARGIN_TOP)
    plot_bottom = float(HEIGHT - MARGIN_BOTTOM)
    plot_height = plot_bottom - plot_top

    peak = max((int(item["delivered"]) + int(item["failed"]) for item in items), default=0)
    y_max = nice_maximum(max(peak, 1))
    slot = (plot_right - plot_left) / max(len(items), 1)
    bar_width = slot * (1 - BAR_GAP_SHARE)

    bars: list[ChartBar] = []
    x_ticks: list[ChartTick] = []
    for index, item in enumerate(items):
        delivered = int(item["delivered"])
        failed = int(item["failed"])
        x = plot_left + index * slot + (slot - bar_width) / 2
        delivered_height = plot_height * delivered / y_max
        failed_height = plot_height * failed / y_max
        minute = _clock_time(str(item["minute"]))

        bars.append(
            ChartBar(
                x=round(x, 2),
                width=round(bar_width, 2),
                delivered_y=round(plot_bottom - delivered_height, 2),
                delivered_height=round(delivered_height, 2),
                failed_y=round(plot_bottom - delivered_height - failed_height, 2),
                failed_height=round(failed_height, 2),
                label=f"{minute} UTC: {delivered} delivered, {failed} failed",
            )
        )
        is_last = index == len(items) - 1
        if index % X_LABEL_EVERY_MINUTES == 0 or is_last:
            x_ticks.append(ChartTick(round(x + bar_width / 2, 2), minute))

    y_ticks = [
        ChartTick(round(plot_bottom - plot_height * share, 2), str(round(y_max * share)))
        for share in (0.0, 0.5, 1.0)
        if share == 0.0 or y_max * share == int(y_max * share)
    ]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        bars=bars,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        delivered=sum(int(item["delivered"]) for item in items),
        failed=sum(int(item["failed"]) for item in items),
        minutes=len(items),
    )


def _clock_time(minute: str) -> str:
    # "2026-12-04T21:33:00Z" -> "21:33"
    return minute[11:16]
