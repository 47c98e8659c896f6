"""Settings: flags over variables over defaults, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from datastreams.errors import SettingsError
from datastreams.settings import load_settings


def test_flag_wins_over_variable() -> None:
    settings = load_settings({"port": 9001}, {"DATASTREAMS_PORT": "9002"})

    assert settings.port == 9001


def test_bad_variable_named() -> None:
    with pytest.raises(SettingsError, match="DATASTREAMS_MAX_EVENT_BYTES: invalid value 'lots'"):
        load_settings({}, {"DATASTREAMS_MAX_EVENT_BYTES": "lots"})


def test_secret_value_hidden() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({}, {"DATASTREAMS_LOG_LEVEL": "loud", "DATASTREAMS_ENCRYPTION_KEY": "k"})

    assert "loud" in str(raised.value)
    assert repr(load_settings({}, {"DATASTREAMS_ENCRYPTION_KEY": "k"})).count("'k'") == 0


def test_ca_file_must_hold_certificates(tmp_path: Path) -> None:
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate\n")

    with pytest.raises(SettingsError, match="DATASTREAMS_TLS_CA_FILE"):
        load_settings({}, {"DATASTREAMS_TLS_CA_FILE": str(not_pem)})


def test_ca_file_accepts_pem(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))

    settings = load_settings({}, {"DATASTREAMS_TLS_CA_FILE": str(ca_file)})

    assert settings.tls_ca_file == str(ca_file)


def test_empty_allowed_networks_admit_nothing() -> None:
    settings = load_settings({}, {"DATASTREAMS_ALLOWED_ENDPOINT_NETWORKS": ""})

    assert settings.allowed_endpoint_networks == ()


@pytest.mark.parametrize("raw", ["0", "17", "four"])
def test_aws_calls_in_flight_range(raw: str) -> None:
    expected = f"DATASTREAMS_AWS_CALLS_IN_FLIGHT: invalid value {raw!r}"
    with pytest.raises(SettingsError, match=expected):
        load_settings({}, {"DATASTREAMS_AWS_CALLS_IN_FLIGHT": raw})


def test_aws_calls_in_flight_set() -> None:
    settings = load_settings({}, {"DATASTREAMS_AWS_CALLS_IN_FLIGHT": "1"})

    assert settings.aws_calls_in_flight == 1
