"""The per-minute chart of a stream's page: scale, bar geometry and labels."""

from __future__ import annotations

import pytest

from datastreams.ui.chart import HEIGHT, MARGIN_BOTTOM, MARGIN_TOP, build_chart, nice_maximum


def minutes(*counts: tuple[int, int]) -> list[dict[str, object]]:
    return [
        {"minute": f"2026-12-04T21:{index:02d}:00Z", "delivered": delivered, "failed": failed}
        for index, (delivered, failed) in enumerate(counts)
    ]


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (480, 500)]
)
def test_nice_maximum(value: int, expected: int) -> None:
    assert nice_maximum(value) == expected


def test_chart_stacks_failed_on_delivered() -> None:
    chart = build_chart(minutes((0, 0), (3, 2), (1, 0)))
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    bar = chart.bars[1]

    assert bar.delivered_height == pytest.approx(plot_height * 3 / 5)
    assert bar.failed_height == pytest.approx(plot_height * 2 / 5)
    assert bar.failed_y + bar.failed_height == pytest.approx(bar.delivered_y)
    assert bar.delivered_y + bar.delivered_height == pytest.approx(chart.plot_bottom)
    assert bar.label == "21:01 UTC: 3 delivered, 2 failed"


def test_chart_totals_and_summary() -> None:
    chart = build_chart(minutes((0, 0), (3, 2), (1, 0)))

    assert chart.delivered == 4
    assert chart.failed == 2
    assert chart.summary == "4 events delivered and 2 failed in the last 3 minutes"


def test_empty_chart_has_unit_scale() -> None:
    chart = build_chart(minutes(*[(0, 0)] * 60))

    assert [tick.label for tick in chart.y_ticks] == ["0", "1"]
    assert all(bar.delivered_height == 0 for bar in chart.bars)


def test_time_labels_every_quarter_hour() -> None:
    items = [
        {
            "minute": f"2026-12-04T{21 + index // 60}:{index % 60:02d}:00Z",
            "delivered": 0,
            "failed": 0,
        }
        for index in range(60)
    ]

    chart = build_chart(items)

    assert [tick.label for tick in chart.x_ticks] == ["21:00", "21:15", "21:30", "21:45", "21:59"]
