"""Unit tests of the ``python -m bench`` command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import parse_arguments
from bench.harness.service import SERVICE_SETTINGS, ServiceUnderTest


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


def test_run_rejects_other_setting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        parse_arguments(["run", "--setting", "LOG_LEVEL=DEBUG"])

    assert raised.value.code == 2
    assert "--setting must be DATASTREAMS_NAME=VALUE, got 'LOG_LEVEL=DEBUG'" in (
        capsys.readouterr().err
    )


def test_setting_reaches_serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SERVICE_SETTINGS, "DATASTREAMS_AWS_CALLS_IN_FLIGHT", "1")

    service = ServiceUnderTest(tmp_path, "district", None)

    assert service._environment["DATASTREAMS_AWS_CALLS_IN_FLIGHT"] == "1"
    assert service._environment["DATASTREAMS_DB"] == str(tmp_path / "datastreams.db")
