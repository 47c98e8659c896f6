"""Unit tests of reading receiver record files."""

from __future__ import annotations

from pathlib import Path

import orjson

from bench.harness.receiver import RecordReader, read_receipts


def _record(received_at: float, status: int, guids: list[str]) -> bytes:
    events = [orjson.dumps({"guid": guid, "type": "T"}).decode() for guid in guids]
    body = {"receivedAt": received_at, "method": "POST", "status": status, "events": events}
    return orjson.dumps(body) + b"\n"


def test_reader_keeps_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "record.ndjson"
    line = _record(1.0, 200, ["a", "b"])
    path.write_bytes(line[:10])
    reader = RecordReader(path)

    assert reader.count_new() == 0

    path.write_bytes(line + _record(2.0, 200, ["c"]))

    assert reader.count_new() == 3


def test_reader_skips_non_2xx(tmp_path: Path) -> None:
    path = tmp_path / "record.ndjson"
    path.write_bytes(_record(1.0, 503, ["a"]) + _record(2.0, 200, ["a"]))

    assert RecordReader(path).count_new() == 1


def test_reader_without_file(tmp_path: Path) -> None:
    assert RecordReader(tmp_path / "missing.ndjson").count_new() == 0


def test_receipts_keep_first_receipt(tmp_path: Path) -> None:
    path = tmp_path / "record.ndjson"
    path.write_bytes(_record(1.0, 200, ["a"]) + _record(2.0, 200, ["a", "b"]))

    receipts = read_receipts([path], frozenset({"a", "b"}))

    assert receipts.first_receipt == {"a": 1.0, "b": 2.0}
    assert receipts.repeats == 1
    assert receipts.last_first_receipt == 2.0


def test_receipts_count_other_guids(tmp_path: Path) -> None:
    path = tmp_path / "record.ndjson"
    path.write_bytes(_record(1.0, 200, ["a", "config-event"]) + _record(2.0, 500, ["b"]))

    receipts = read_receipts([path], frozenset({"a", "b"}))

    assert receipts.other_events == 1
    assert receipts.repeats == 0
    assert receipts.non_2xx_requests == 1
    assert set(receipts.first_receipt) == {"a"}
