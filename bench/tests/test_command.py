"""Unit tests of the ``python -m bench`` command line."""

from __future__ import annotations

import pytest

from bench.__main__ import parse_arguments


def test_run_defaults() -> None:
    arguments = parse_arguments(["run"])

    assert arguments.size == "full"
    assert arguments.scenario is None
    assert arguments.repeats is None


def test_run_several_scenarios() -> None:
    arguments = parse_arguments(["run", "--scenario", "1", "--scenario", "3b"])

    assert arguments.scenario == ["1", "3b"]


def test_run_rejects_zero_repeats(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        parse_arguments(["run", "--repeats", "0"])

    assert raised.value.code == 2
    assert "--repeats must be 1 or more, got 0" in capsys.readouterr().err


def test_run_rejects_unknown_scenario() -> None:
    with pytest.raises(SystemExit) as raised:
        parse_arguments(["run", "--scenario", "9"])

    assert raised.value.code == 2


def test_report_takes_several_files() -> None:
    arguments = parse_arguments(["report", "old.json", "new.json"])

    assert [path.name for path in arguments.results] == ["old.json", "new.json"]
