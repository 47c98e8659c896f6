"""Tests of the generated configuration reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from datastreams import settings_doc
from datastreams.settings import SETTINGS, SettingSpec

REFERENCE_DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_reference_doc_current() -> None:
    # On failure, run: python -m datastreams.settings_doc
    assert REFERENCE_DOC.read_text(encoding="utf-8") == settings_doc.render()


def test_render_lists_every_setting() -> None:
    rendered = settings_doc.render()

    for spec in SETTINGS:
        assert f"| `{spec.name}` | `{spec.flag}`" in rendered
        assert f"| `{spec.env_var}` |" in rendered


def test_render_boolean_flag_pair() -> None:
    spec = SettingSpec("dry_run", False, bool, "Send nothing.")

    rendered = settings_doc.render([spec])

    assert (
        "| `dry_run` | `--dry-run`, `--no-dry-run` | `DATASTREAMS_DRY_RUN` | `false` "
        "| Send nothing. |" in rendered
    )


def test_render_defaults() -> None:
    specs = [
        SettingSpec("missing", None, str, "No default."),
        SettingSpec("empty_list", (), str, "An empty list."),
        SettingSpec("size_bytes", 1024, int, "A size."),
    ]

    rendered = settings_doc.render(specs)

    assert "| `DATASTREAMS_MISSING` | none |" in rendered
    assert "| `DATASTREAMS_EMPTY_LIST` | none |" in rendered
    assert "| `DATASTREAMS_SIZE_BYTES` | `1024` |" in rendered


def test_render_marks_secret() -> None:
    spec = SettingSpec("token", None, str, "A token.", secret=True)

    assert "| A token. Secret. |" in settings_doc.render([spec])


def test_render_escapes_pipe() -> None:
    spec = SettingSpec("mode", "a", str, "Either a | b.")

    assert "| Either a \\| b. |" in settings_doc.render([spec])


def test_doc_main_writes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "docs" / "configuration.md"

    status = settings_doc.main([str(output)])

    assert status == 0
    assert output.read_text(encoding="utf-8") == settings_doc.render()
    assert str(output) in capsys.readouterr().out


def test_doc_main_check_current(tmp_path: Path) -> None:
    output = tmp_path / "configuration.md"
    output.write_text(settings_doc.render(), encoding="utf-8")

    assert settings_doc.main(["--check", str(output)]) == 0


def test_doc_main_check_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "configuration.md"
    output.write_text("# Configuration\n", encoding="utf-8")

    status = settings_doc.main(["--check", str(output)])

    assert status == 1
    assert "out of date" in capsys.readouterr().err
    assert output.read_text(encoding="utf-8") == "# Configuration\n"


def test_doc_main_check_missing(tmp_path: Path) -> None:
    assert settings_doc.main(["--check", str(tmp_path / "absent.md")]) == 1
