"""The real ``datastreams`` command line in subprocesses: output, exit codes, live changes."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from service_process import (
    ServerProcess,
    Tenants,
    bearer,
    event,
    firehose_stream,
    run_cli,
    run_cli_ok,
)

pytestmark = pytest.mark.integration

KEY_LINE = re.compile(r"dsp_[A-Za-z0-9_-]{43}\n")
# How long a running service may take to see a change the command line made.
APPLY_DEADLINE_S = 1.5


def unique_id(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


def write_json(path: Path, value: object) -> Path:
    path.write_bytes(orjson.dumps(value))
    return path


# Output of the commands -----------------------------------------------------------


def test_keys_create_prints_only_key(session_db: Path, tenants: Tenants) -> None:
    finished = run_cli("keys", "create", "--domain", "acme", "--role", "producer", db=session_db)

    assert finished.returncode == 0
    assert KEY_LINE.fullmatch(finished.stdout)


def test_keys_list_hides_keys(session_db: Path, tenants: Tenants) -> None:
    listed = run_cli_ok("keys", "list", "--json", db=session_db)

    items = orjson.loads(listed)
    assert {item["domainId"] for item in items} >= {"acme", "globex"}
    assert tenants.acme_admin not in listed
    assert all("key" not in item for item in items)


def test_keys_list_table(session_db: Path, tenants: Tenants) -> None:
    header = run_cli_ok("keys", "list", db=session_db).splitlines()[0]

    assert header.split() == ["ID", "ROLE", "DOMAIN", "PREFIX", "NAME", "CREATED", "REVOKED"]


def test_domains_add_prints_id(session_db: Path, tenants: Tenants) -> None:
    domain_id = unique_id("acme")
    printed = run_cli_ok(
        "domains", "add", domain_id, "--name", "CLI", "--parent", "acme", db=session_db
    )

    assert printed == f"{domain_id}\n"


def test_domains_list_json(session_db: Path, tenants: Tenants) -> None:
    items = orjson.loads(run_cli_ok("domains", "list", "--json", db=session_db))

    by_id = {item["id"]: item for item in items}
    assert by_id["acme.eu"]["parentId"] == "acme"
    assert by_id["globex"]["parentId"] is None


def test_domains_list_table_aligned(session_db: Path, tenants: Tenants) -> None:
    lines = run_cli_ok("domains", "list", db=session_db).splitlines()

    name_column = lines[0].index("NAME")
    acme_line = next(line for line in lines if line.startswith("acme "))
    assert acme_line[name_column:].startswith("Acme")


def test_streams_add_prints_only_id(session_db: Path, tenants: Tenants, tmp_path: Path) -> None:
    body = write_json(tmp_path / "stream.json", firehose_stream())
    finished = run_cli("streams", "add", "--domain", "acme", "--file", str(body), db=session_db)

    assert finished.returncode == 0
    assert re.fullmatch(r"[0-9a-f-]{36}\n", finished.stdout)


def test_streams_add_from_stdin(session_db: Path, tenants: Tenants) -> None:
    body = orjson.dumps(firehose_stream()).decode("utf-8")
    finished = run_cli(
        "streams", "add", "--domain", "acme", "--file", "-", db=session_db, input_text=body
    )

    assert finished.returncode == 0
    assert re.fullmatch(r"[0-9a-f-]{36}\n", finished.stdout)


def test_streams_add_warns_on_stderr(session_db: Path, tenants: Tenants, tmp_path: Path) -> None:
    filters = [{"eventType": "NoSuchEventType", "properties": []}]
    body = write_json(tmp_path / "stream.json", firehose_stream(filters=filters))
    finished = run_cli("streams", "add", "--domain", "acme", "--file", str(body), db=session_db)

    assert finished.returncode == 0
    assert "NoSuchEventType" in finished.stderr
    assert "NoSuchEventType" not in finished.stdout


def test_streams_lifecycle(session_db: Path, tenants: Tenants, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    body = write_json(tmp_path / "stream.json", firehose_stream(name))
    stream_id = run_cli_ok(
        "streams", "add", "--domain", "acme", "--file", str(body), db=session_db
    ).strip()

    patch = write_json(tmp_path / "patch.json", {"description": "Changed by the CLI"})
    run_cli_ok(
        "streams", "update", "--domain", "acme", stream_id, "--file", str(patch), db=session_db
    )
    run_cli_ok("streams", "disable", "--domain", "acme", stream_id, db=session_db)
    shown = orjson.loads(
        run_cli_ok("streams", "show", "--domain", "acme", stream_id, "--json", db=session_db)
    )

    assert shown["description"] == "Changed by the CLI"
    assert shown["enabled"] is False
    assert shown["version"] == 3

    run_cli_ok("streams", "enable", "--domain", "acme", stream_id, db=session_db)
    listed = orjson.loads(
        run_cli_ok("streams", "list", "--domain", "acme", "--json", db=session_db)
    )
    assert next(item for item in listed if item["id"] == stream_id)["enabled"] is True

    run_cli_ok("streams", "remove", "--domain", "acme", stream_id, db=session_db)
    missing = run_cli("streams", "show", "--domain", "acme", stream_id, db=session_db)
    assert missing.returncode == 1


def test_streams_update_stale_version_fails(
    session_db: Path, tenants: Tenants, tmp_path: Path
) -> None:
    body = write_json(tmp_path / "stream.json", firehose_stream())
    stream_id = run_cli_ok(
        "streams", "add", "--domain", "acme", "--file", str(body), db=session_db
    ).strip()
    patch = write_json(tmp_path / "patch.json", {"version": 7, "description": "late"})

    finished = run_cli(
        "streams", "update", "--domain", "acme", stream_id, "--file", str(patch), db=session_db
    )

    assert finished.returncode == 1
    assert "version" in finished.stderr


def test_streams_show_table(session_db: Path, tenants: Tenants, tmp_path: Path) -> None:
    body = write_json(
        tmp_path / "stream.json", firehose_stream("shown-stream-" + uuid.uuid4().hex[:6])
    )
    stream_id = run_cli_ok(
        "streams", "add", "--domain", "acme", "--file", str(body), db=session_db
    ).strip()

    lines = run_cli_ok("streams", "show", "--domain", "acme", stream_id, db=session_db).splitlines()
    assert any(line.split() == ["type", "firehose"] for line in lines)


# Exit codes -----------------------------------------------------------------------


def test_invalid_domain_id_exits_1(session_db: Path, tenants: Tenants) -> None:
    finished = run_cli("domains", "add", "bad id", "--name", "Bad", db=session_db)

    assert finished.returncode == 1
    assert "id" in finished.stderr
    assert '"bad id"' in finished.stderr
    assert finished.stdout == ""


def test_invalid_stream_names_field_and_value(
    session_db: Path, tenants: Tenants, tmp_path: Path
) -> None:
    body = write_json(
        tmp_path / "stream.json", firehose_stream(aws={"roleArn": "nope", "region": "us-east-1"})
    )
    finished = run_cli("streams", "add", "--domain", "acme", "--file", str(body), db=session_db)

    assert finished.returncode == 1
    assert "aws.roleArn" in finished.stderr
    assert '"nope"' in finished.stderr


def test_key_for_unknown_domain_exits_1(session_db: Path, tenants: Tenants) -> None:
    finished = run_cli("keys", "create", "--domain", "nowhere", "--role", "admin", db=session_db)

    assert finished.returncode == 1
    assert "domainId" in finished.stderr
    assert finished.stdout == ""


def test_invalid_json_file_exits_1(session_db: Path, tenants: Tenants, tmp_path: Path) -> None:
    body = tmp_path / "broken.json"
    body.write_text("{not json")
    finished = run_cli("streams", "add", "--domain", "acme", "--file", str(body), db=session_db)

    assert finished.returncode == 1
    assert "broken.json" in finished.stderr


def test_missing_option_exits_2(session_db: Path) -> None:
    finished = run_cli("keys", "create", "--role", "admin", db=session_db)

    assert finished.returncode == 2
    assert "--domain" in finished.stderr


def test_bad_choice_exits_2(session_db: Path) -> None:
    finished = run_cli("keys", "create", "--domain", "acme", "--role", "owner", db=session_db)

    assert finished.returncode == 2


def test_unknown_command_exits_2() -> None:
    assert run_cli("frobnicate").returncode == 2


def test_bad_env_value_names_variable(session_db: Path) -> None:
    finished = run_cli(
        "domains", "list", db=session_db, env={"DATASTREAMS_MAX_BATCH_ITEMS": "lots"}
    )

    assert finished.returncode == 2
    assert "DATASTREAMS_MAX_BATCH_ITEMS" in finished.stderr
    assert "lots" in finished.stderr


def test_bad_flag_value_names_flag(tmp_path: Path) -> None:
    finished = run_cli("serve", "--port", "99999", db=tmp_path / "unused.db")

    assert finished.returncode == 2
    assert "--port" in finished.stderr


def test_flag_wins_over_variable(tmp_path: Path) -> None:
    # The variable names a directory that does not exist, so only the flag's file can be used.
    flag_db = tmp_path / "flag.db"
    finished = run_cli(
        "domains",
        "list",
        "--db",
        str(flag_db),
        env={"DATASTREAMS_DB": str(tmp_path / "missing" / "x.db")},
    )

    assert finished.returncode == 0
    assert flag_db.exists()


def test_help_names_variables() -> None:
    finished = run_cli("serve", "--help")

    assert finished.returncode == 0
    assert "DATASTREAMS_MAX_BODY_BYTES" in finished.stdout
    assert "in bytes" in finished.stdout


# Changes reach a running service ----------------------------------------------------


def test_revoke_applies_within_a_second(
    session_db: Path, server: ServerProcess, tenants: Tenants
) -> None:
    key = run_cli_ok(
        "keys", "create", "--domain", "acme", "--role", "producer", db=session_db
    ).strip()
    listed = orjson.loads(run_cli_ok("keys", "list", "--json", db=session_db))
    key_id = next(
        item["id"]
        for item in listed
        if key.startswith(item["prefix"]) and item["revokedAt"] is None
    )

    with httpx.Client(base_url=server.url) as http:
        assert http.post("/api/v1/events", json=event(), headers=bearer(key)).status_code == 202
        run_cli_ok("keys", "revoke", key_id, db=session_db)
        revoked_at = time.monotonic()

        status = 202
        while time.monotonic() - revoked_at < APPLY_DEADLINE_S:
            status = http.post("/api/v1/events", json=event(), headers=bearer(key)).status_code
            if status == 401:
                break
            time.sleep(0.05)

    assert status == 401


def test_new_domain_applies_within_a_second(
    session_db: Path, server: ServerProcess, tenants: Tenants
) -> None:
    with httpx.Client(base_url=server.url) as http:
        # Read the key's scope first, so the service has it cached.
        http.post("/api/v1/events", json=event(), headers=bearer(tenants.acme_producer))
        domain_id = unique_id("acme")
        run_cli_ok("domains", "add", domain_id, "--name", "Late", "--parent", "acme", db=session_db)
        added_at = time.monotonic()

        accepted = 0
        while time.monotonic() - added_at < APPLY_DEADLINE_S:
            response = http.post(
                "/api/v1/events", json=event(domain_id), headers=bearer(tenants.acme_producer)
            )
            accepted = response.json()["accepted"]
            if accepted:
                break
            time.sleep(0.05)

    assert accepted == 1


# publish ----------------------------------------------------------------------------


def test_publish_prints_summary(server: ServerProcess, tenants: Tenants, tmp_path: Path) -> None:
    events_file = tmp_path / "events.ndjson"
    events_file.write_bytes(b"\n".join(orjson.dumps(event()) for _ in range(3)) + b"\n")
    finished = run_cli(
        "publish", str(events_file), "--url", server.url, "--api-key", tenants.acme_producer
    )

    assert finished.returncode == 0
    assert finished.stdout == "accepted 3, duplicates 0, rejected 0\n"


def test_publish_from_stdin_with_env_key(server: ServerProcess, tenants: Tenants) -> None:
    finished = run_cli(
        "publish",
        "-",
        "--url",
        server.url,
        env={"DATASTREAMS_API_KEY": tenants.acme_producer},
        input_text=orjson.dumps(event()).decode("utf-8") + "\n",
    )

    assert finished.returncode == 0
    assert finished.stdout.startswith("accepted 1,")


def test_publish_rejected_exits_1(server: ServerProcess, tenants: Tenants, tmp_path: Path) -> None:
    lines = [orjson.dumps(event()), orjson.dumps(event(time="2024-05-01 12:00")), b"[1, 2]"]
    events_file = tmp_path / "events.ndjson"
    events_file.write_bytes(b"\n".join(lines) + b"\n")
    finished = run_cli(
        "publish", str(events_file), "--url", server.url, "--api-key", tenants.acme_producer
    )

    assert finished.returncode == 1
    assert finished.stdout == "accepted 1, duplicates 0, rejected 2\n"
    assert 'item 1: time = "2024-05-01 12:00"' in finished.stderr
    assert "item 2: (line)" in finished.stderr


def test_publish_twice_is_duplicate(
    server: ServerProcess, tenants: Tenants, tmp_path: Path
) -> None:
    events_file = tmp_path / "events.ndjson"
    events_file.write_bytes(orjson.dumps(event()) + b"\n")
    arguments = (
        "publish",
        str(events_file),
        "--url",
        server.url,
        "--api-key",
        tenants.acme_producer,
    )
    run_cli(*arguments)
    finished = run_cli(*arguments)

    assert finished.stdout == "accepted 0, duplicates 1, rejected 0\n"


def test_publish_with_admin_key_exits_1(
    server: ServerProcess, tenants: Tenants, tmp_path: Path
) -> None:
    events_file = tmp_path / "events.ndjson"
    events_file.write_bytes(orjson.dumps(event()) + b"\n")
    finished = run_cli(
        "publish", str(events_file), "--url", server.url, "--api-key", tenants.acme_admin
    )

    assert finished.returncode == 1
    assert "producer key" in finished.stderr


def test_publish_without_key_exits_2(server: ServerProcess, tmp_path: Path) -> None:
    events_file = tmp_path / "events.ndjson"
    events_file.write_bytes(orjson.dumps(event()) + b"\n")

    assert run_cli("publish", str(events_file), "--url", server.url).returncode == 2
