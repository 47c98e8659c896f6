"""POST /api/v1/events against the real service: every rejection, isolation, idempotency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from service_process import (
    SMALL_LIMITS,
    ServerProcess,
    Tenants,
    assert_error_body,
    bearer,
    create_tenants,
    event,
    new_guid,
    start_server,
    stored_event_lines,
)

pytestmark = pytest.mark.integration

EVENTS = "/api/v1/events"
NDJSON = {"Content-Type": "application/x-ndjson"}


def post_json(http: httpx.Client, key: str, body: Any) -> httpx.Response:
    return http.post(
        EVENTS,
        content=orjson.dumps(body),
        headers=bearer(key) | {"Content-Type": "application/json"},
    )


def post_raw(
    http: httpx.Client, key: str, raw: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return http.post(EVENTS, content=raw, headers=bearer(key) | {"Content-Type": content_type})


def rejection_of(response: httpx.Response, index: int = 0) -> dict[str, Any]:
    item = response.json()["items"][index]
    assert item["status"] == "rejected", item
    return dict(item["error"])


# Accepted events -----------------------------------------------------------------


def test_ingest_single_object(http: httpx.Client, tenants: Tenants) -> None:
    sent = event()
    response = post_json(http, tenants.acme_producer, sent)

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert body["items"] == [
        {"index": 0, "status": "accepted", "guid": sent["guid"], "time": sent["time"]}
    ]


def test_ingest_stores_canonical_line(
    http: httpx.Client, tenants: Tenants, server: ServerProcess
) -> None:
    guid = new_guid()
    # Written by hand: the number keeps its trailing zero, the spacing is dropped, and
    # the optional member moves after data.
    raw = (
        '{ "userId": "7", "data": {"b": 1.50, "a": "é"}, "type": "UserEntityCreated",'
        ' "domainId": "acme", "guid": "' + guid + '", "time": "2022-06-29T16:40:30.9926931Z" }'
    )
    post_raw(http, tenants.acme_producer, raw.encode("utf-8"))

    expected = (
        '{"time":"2022-06-29T16:40:30.9926931Z","guid":"' + guid + '",'
        '"domainId":"acme","type":"UserEntityCreated","data":{"b":1.50,"a":"é"},"userId":"7"}'
    )
    assert stored_event_lines(server.db, guid) == [expected.encode("utf-8")]


def test_ingest_assigns_missing_guid_and_time(http: httpx.Client, tenants: Tenants) -> None:
    sent = event()
    del sent["guid"], sent["time"]
    item = post_json(http, tenants.acme_producer, sent).json()["items"][0]

    assert item["status"] == "accepted"
    assert len(item["guid"]) == 36
    assert item["time"].endswith("Z")


def test_ingest_array_answers_in_order(http: httpx.Client, tenants: Tenants) -> None:
    sent = [event(), event(), event()]
    body = post_json(http, tenants.acme_producer, sent).json()

    assert [item["index"] for item in body["items"]] == [0, 1, 2]
    assert [item["guid"] for item in body["items"]] == [item["guid"] for item in sent]


def test_ingest_ndjson(http: httpx.Client, tenants: Tenants) -> None:
    lines = b"\n".join(orjson.dumps(event()) for _ in range(3)) + b"\n"
    response = post_raw(http, tenants.acme_producer, lines, "application/x-ndjson")

    assert response.status_code == 202
    assert response.json()["accepted"] == 3


def test_ingest_descendant_domain(http: httpx.Client, tenants: Tenants) -> None:
    response = post_json(http, tenants.acme_producer, event("acme.eu"))

    assert response.json()["accepted"] == 1


def test_ingest_time_offset_converted(http: httpx.Client, tenants: Tenants) -> None:
    item = post_json(http, tenants.acme_producer, event(time="2024-05-01T14:00:00.5+02:00")).json()[
        "items"
    ][0]

    assert item["time"] == "2024-05-01T12:00:00.5000000Z"


# Idempotency ----------------------------------------------------------------------


def test_ingest_same_guid_is_duplicate(
    http: httpx.Client, tenants: Tenants, server: ServerProcess
) -> None:
    sent = event()
    first = post_json(http, tenants.acme_producer, sent)
    second = post_json(http, tenants.acme_producer, sent)

    assert first.json()["items"][0]["status"] == "accepted"
    assert second.status_code == 202
    assert second.json()["duplicates"] == 1
    assert second.json()["items"][0]["status"] == "duplicate"
    assert len(stored_event_lines(server.db, sent["guid"])) == 1


def test_ingest_duplicate_within_one_request(http: httpx.Client, tenants: Tenants) -> None:
    sent = event()
    statuses = [
        item["status"]
        for item in post_json(http, tenants.acme_producer, [sent, sent]).json()["items"]
    ]

    assert statuses == ["accepted", "duplicate"]


def test_ingest_upper_case_guid_stored_lower(
    http: httpx.Client, tenants: Tenants, server: ServerProcess
) -> None:
    guid = new_guid()
    answer = post_json(http, tenants.acme_producer, event(guid=guid.upper())).json()["items"][0]
    again = post_json(http, tenants.acme_producer, event(guid=guid)).json()["items"][0]

    assert answer["guid"] == guid
    assert again["status"] == "duplicate"
    assert len(stored_event_lines(server.db, guid)) == 1


def test_ingest_duplicate_keeps_first_time(http: httpx.Client, tenants: Tenants) -> None:
    sent = event()
    post_json(http, tenants.acme_producer, sent)
    item = post_json(http, tenants.acme_producer, {**sent, "time": "2030-01-01T00:00:00Z"}).json()[
        "items"
    ][0]

    assert item["time"] == sent["time"]


# Batch isolation ------------------------------------------------------------------


def test_ingest_bad_item_keeps_neighbours(
    http: httpx.Client, tenants: Tenants, server: ServerProcess
) -> None:
    good_before, bad, good_after = event(), event(guid="not-a-guid"), event()
    response = post_json(http, tenants.acme_producer, [good_before, bad, good_after])

    body = response.json()
    assert response.status_code == 202
    assert [item["status"] for item in body["items"]] == ["accepted", "rejected", "accepted"]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 1)
    assert len(stored_event_lines(server.db, good_before["guid"])) == 1
    assert len(stored_event_lines(server.db, good_after["guid"])) == 1


def test_ingest_rejected_item_not_stored(
    http: httpx.Client, tenants: Tenants, server: ServerProcess
) -> None:
    bad = event(data="text")
    post_json(http, tenants.acme_producer, [event(), bad])

    assert stored_event_lines(server.db, bad["guid"]) == []


# Rejections, item by item ---------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": None}, "type"),
        ({"guid": "1234"}, "guid"),
        ({"time": "2024-05-01T12:00:00"}, "time"),
        ({"time": "yesterday"}, "time"),
        ({"color": "blue"}, "color"),
        ({"data": [1, 2]}, "data"),
        ({"data": "text"}, "data"),
        ({"domainId": 17}, "domainId"),
        ({"userId": 17}, "userId"),
    ],
    ids=[
        "missing-type",
        "bad-guid",
        "time-without-zone",
        "time-not-iso",
        "unknown-member",
        "data-array",
        "data-string",
        "domain-number",
        "user-number",
    ],
)
def test_ingest_rejects_member(
    http: httpx.Client, tenants: Tenants, changes: dict[str, Any], field: str
) -> None:
    sent = event()
    sent.update(changes)
    sent = {name: value for name, value in sent.items() if value is not None}
    response = post_json(http, tenants.acme_producer, [event(), sent])

    error = rejection_of(response, 1)
    assert error["field"] == field
    assert error["message"]


def test_ingest_rejects_missing_data(http: httpx.Client, tenants: Tenants) -> None:
    sent = event()
    del sent["data"]
    error = rejection_of(post_json(http, tenants.acme_producer, [event(), sent]), 1)

    assert error["field"] == "data"


def test_ingest_rejection_echoes_value(http: httpx.Client, tenants: Tenants) -> None:
    error = rejection_of(
        post_json(http, tenants.acme_producer, [event(), event(time="2024-05-01T12:00:00")]), 1
    )

    assert error["value"] == "2024-05-01T12:00:00"


def test_ingest_rejects_deep_nesting(http: httpx.Client, tenants: Tenants) -> None:
    data: dict[str, Any] = {}
    inner = data
    for _ in range(40):
        inner["child"] = {}
        inner = inner["child"]
    error = rejection_of(post_json(http, tenants.acme_producer, [event(), event(data=data)]), 1)

    assert error["field"].startswith("data.child")


def test_ingest_rejects_too_large_event(http: httpx.Client, tenants: Tenants) -> None:
    limit = int(SMALL_LIMITS["DATASTREAMS_MAX_EVENT_BYTES"])
    error = rejection_of(
        post_json(http, tenants.acme_producer, [event(), event(data={"text": "x" * limit})]), 1
    )

    assert str(limit) in error["message"]


def test_ingest_rejects_invalid_utf8_line(http: httpx.Client, tenants: Tenants) -> None:
    good = orjson.dumps(event())
    bad = b'{"domainId":"acme","type":"T","data":{"name":"caf\xe9"}}'
    response = post_raw(
        http, tenants.acme_producer, good + b"\n" + bad + b"\n", "application/x-ndjson"
    )

    body = response.json()
    assert response.status_code == 202
    assert [item["status"] for item in body["items"]] == ["accepted", "rejected"]
    assert body["items"][1]["error"]["field"] == "data.name"


def test_ingest_rejects_lone_surrogate(http: httpx.Client, tenants: Tenants) -> None:
    bad = b'{"domainId":"acme","type":"T","data":{"name":"\\ud800"}}'
    response = post_raw(
        http, tenants.acme_producer, b"[" + orjson.dumps(event()) + b"," + bad + b"]"
    )

    assert rejection_of(response, 1)["field"] == "data.name"


def test_ingest_rejects_nan(http: httpx.Client, tenants: Tenants) -> None:
    bad = b'{"domainId":"acme","type":"T","data":{"score":NaN}}'
    response = post_raw(
        http, tenants.acme_producer, b"[" + orjson.dumps(event()) + b"," + bad + b"]"
    )

    assert rejection_of(response, 1)["field"] == "data.score"


def test_ingest_rejects_duplicate_keys(http: httpx.Client, tenants: Tenants) -> None:
    bad = b'{"domainId":"acme","type":"T","data":{"a":1,"a":2}}'
    response = post_raw(
        http, tenants.acme_producer, b"[" + orjson.dumps(event()) + b"," + bad + b"]"
    )

    error = rejection_of(response, 1)
    assert error["field"] == "data"
    assert error["value"] == "a"


def test_ingest_rejects_unknown_domain(http: httpx.Client, tenants: Tenants) -> None:
    error = rejection_of(
        post_json(http, tenants.acme_producer, [event(), event("no-such-domain")]), 1
    )

    assert error == {"field": "domainId", "value": "no-such-domain", "message": "unknown domain"}


def test_ingest_rejects_other_tenant_domain(http: httpx.Client, tenants: Tenants) -> None:
    error = rejection_of(post_json(http, tenants.acme_producer, [event(), event("globex")]), 1)

    assert error == {"field": "domainId", "value": "globex", "message": "unknown domain"}


def test_ingest_rejects_parent_of_key_domain(http: httpx.Client, tenants: Tenants) -> None:
    error = rejection_of(
        post_json(http, tenants.acme_eu_producer, [event("acme.eu"), event("acme")]), 1
    )

    assert error["field"] == "domainId"


def test_ingest_rejected_item_keeps_given_guid(http: httpx.Client, tenants: Tenants) -> None:
    sent = event("globex")
    item = post_json(http, tenants.acme_producer, [event(), sent]).json()["items"][1]

    assert item["guid"] == sent["guid"]


def test_ingest_bad_ndjson_line_alone(http: httpx.Client, tenants: Tenants) -> None:
    lines = orjson.dumps(event()) + b'\n{"domainId": \n' + orjson.dumps(event()) + b"\n"
    body = post_raw(http, tenants.acme_producer, lines, "application/x-ndjson").json()

    assert [item["status"] for item in body["items"]] == ["accepted", "rejected", "accepted"]


# Whole-request responses ------------------------------------------------------------


def test_ingest_all_rejected_is_422(http: httpx.Client, tenants: Tenants) -> None:
    response = post_json(http, tenants.acme_producer, [event(guid="x"), event("globex")])

    error = assert_error_body(response, 422, "events_rejected")
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (0, 2)
    assert [field["field"] for field in error["fields"]] == ["[0].guid", "[1].domainId"]


def test_ingest_only_duplicates_is_202(http: httpx.Client, tenants: Tenants) -> None:
    sent = event()
    post_json(http, tenants.acme_producer, sent)

    assert post_json(http, tenants.acme_producer, sent).status_code == 202


def test_ingest_broken_json_is_400(http: httpx.Client, tenants: Tenants) -> None:
    response = post_raw(http, tenants.acme_producer, b'[{"domainId": "acme"')

    assert_error_body(response, 400, "invalid_body")


def test_ingest_empty_body_is_400(http: httpx.Client, tenants: Tenants) -> None:
    assert_error_body(post_raw(http, tenants.acme_producer, b""), 400)


def test_ingest_text_plain_is_415(http: httpx.Client, tenants: Tenants) -> None:
    response = post_raw(http, tenants.acme_producer, orjson.dumps(event()), "text/plain")

    assert_error_body(response, 415, "unsupported_media_type")


def test_ingest_body_over_limit_is_413(http: httpx.Client, tenants: Tenants) -> None:
    limit = int(SMALL_LIMITS["DATASTREAMS_MAX_BODY_BYTES"])
    raw = b"\n".join(orjson.dumps(event(data={"text": "x" * 2000})) for _ in range(40))
    assert len(raw) > limit

    error = assert_error_body(
        post_raw(http, tenants.acme_producer, raw, "application/x-ndjson"), 413
    )
    assert str(limit) in error["message"]


def test_ingest_chunked_body_over_limit_is_413(http: httpx.Client, tenants: Tenants) -> None:
    limit = int(SMALL_LIMITS["DATASTREAMS_MAX_BODY_BYTES"])
    line = orjson.dumps(event(data={"text": "x" * 1000})) + b"\n"

    def chunks() -> Iterator[bytes]:
        # A generator body is sent chunked, without Content-Length.
        for _ in range(limit // len(line) + 10):
            yield line

    response = http.post(EVENTS, content=chunks(), headers=bearer(tenants.acme_producer) | NDJSON)

    assert "content-length" not in response.request.headers
    assert_error_body(response, 413, "limit_exceeded")


def test_ingest_too_many_items_is_413(http: httpx.Client, tenants: Tenants) -> None:
    limit = int(SMALL_LIMITS["DATASTREAMS_MAX_BATCH_ITEMS"])
    response = post_json(http, tenants.acme_producer, [event() for _ in range(limit + 1)])

    error = assert_error_body(response, 413, "limit_exceeded")
    assert str(limit) in error["message"]


def test_ingest_admin_key_is_403(http: httpx.Client, tenants: Tenants) -> None:
    assert_error_body(post_json(http, tenants.acme_admin, event()), 403, "forbidden")


def test_ingest_without_key_is_401(http: httpx.Client) -> None:
    response = http.post(
        EVENTS, content=orjson.dumps(event()), headers={"Content-Type": "application/json"}
    )

    assert_error_body(response, 401, "unauthorized")


# Strict mode ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, Tenants]]:
    db = tmp_path_factory.mktemp("strict") / "strict.db"
    strict_tenants = create_tenants(db)
    running = start_server(db, args=["--strict-event-types"])
    yield running, strict_tenants
    running.stop()


def test_strict_rejects_unknown_type(strict_server: tuple[ServerProcess, Tenants]) -> None:
    running, strict_tenants = strict_server
    with httpx.Client(base_url=running.url) as http:
        response = post_json(
            http, strict_tenants.acme_producer, [event(), event(type="NoSuchEventType")]
        )

    assert [item["status"] for item in response.json()["items"]] == ["accepted", "rejected"]
    assert rejection_of(response, 1)["field"] == "type"


def test_lenient_accepts_unknown_type(http: httpx.Client, tenants: Tenants) -> None:
    response = post_json(http, tenants.acme_producer, event(type="NoSuchEventType"))

    assert response.json()["accepted"] == 1
