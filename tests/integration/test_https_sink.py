"""The HTTPS sink against real TLS receivers on 127.0.0.1 with trustme certificates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from datastreams.receiver import ReceivedRequest, Receiver, ReceiverConfig
from datastreams.security.endpoints import parse_networks
from datastreams.sinks.base import OutboundRecord
from datastreams.sinks.errors import ConfigurationDeliveryError, RetryableDeliveryError
from datastreams.sinks.https import HttpsSink, HttpsSinkConfig
from datastreams.sinks.https.config import SigningKeys

LOOPBACK = parse_networks("127.0.0.0/8,::1/128")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_plJ3nmyCDGBKInavdOK15jsl"


def record(seq: int, domain_id: str = "1") -> OutboundRecord:
    guid = f"00000000-0000-4000-8000-{seq:012d}"
    payload = (
        f'{{"time":"2024-01-01T00:00:00.0000000Z","guid":"{guid}","domainId":"{domain_id}",'
        f'"type":"ItemActivity","data":{{"n":{seq}}}}}'
    ).encode()
    return OutboundRecord(seq=seq, guid=guid, domain_id=domain_id, payload=payload)


@pytest.fixture
async def receivers(tmp_path: Path) -> AsyncIterator[list[Receiver]]:
    shared_ca = trustme.CA()
    started = [Receiver(ReceiverConfig(), ca=shared_ca) for _ in range(2)]
    for receiver in started:
        await receiver.start()
    yield started
    for receiver in started:
        await receiver.stop()


def make_sink(tmp_path: Path, endpoints: list[str], ca: Receiver, **options: object) -> HttpsSink:
    ca_file = tmp_path / f"ca-{id(ca)}.pem"
    ca_file.write_bytes(ca.ca_pem())
    config = HttpsSinkConfig(endpoints=tuple(endpoints), **options)  # type: ignore[arg-type]
    return HttpsSink(config, allowed_networks=LOOPBACK, ca_file=str(ca_file))


async def test_single_event_body_and_headers(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    sink = make_sink(tmp_path, [receiver.url], receiver)

    result = await sink.send([record(1)])
    await sink.close()

    assert result.delivered == [1]
    request = receiver.requests[0]
    assert request.method == "POST"
    assert request.body == record(1).payload
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("datastreams/")
    assert "webhook-signature" not in request.headers


async def test_batch_is_ndjson(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    sink = make_sink(tmp_path, [receiver.url], receiver, batch_size=3, method="PUT")

    result = await sink.send([record(1), record(2), record(3)])
    await sink.close()

    assert result.delivered == [1, 2, 3]
    request = receiver.requests[0]
    assert request.method == "PUT"
    assert request.headers["Content-Type"] == "application/x-ndjson"
    assert request.body == b"".join(record(n).payload + b"\n" for n in (1, 2, 3))


async def test_failover_after_retries(tmp_path: Path) -> None:
    primary = Receiver(ReceiverConfig(respond="503"))
    backup = Receiver(ReceiverConfig(), ca=primary.ca)
    await primary.start()
    await backup.start()
    sink = make_sink(tmp_path, [primary.url, backup.url], primary, retries=2)

    result = await sink.send([record(7)])
    await sink.close()
    await primary.stop()
    await backup.stop()

    assert result.delivered == [7]
    assert result.endpoint == backup.url
    assert len(primary.requests) == 3
    assert len(backup.requests) == 1


async def test_all_endpoints_down_retries(tmp_path: Path, receivers: list[Receiver]) -> None:
    primary, backup = receivers
    primary.set_response_script("429:9")
    backup.set_response_script("503")
    sink = make_sink(tmp_path, [primary.url, backup.url], primary, retries=1)

    result = await sink.send([record(1)])
    await sink.close()

    assert result.retry == [1]
    assert isinstance(result.error, RetryableDeliveryError)
    assert result.error.retry_after_s == 9
    # Retry-After forbids calling the endpoint again sooner, so it gets no second try.
    assert len(primary.requests) == 1
    assert len(backup.requests) == 2


async def test_timeout_is_retryable(tmp_path: Path) -> None:
    receiver = Receiver(ReceiverConfig(delay_ms=1500))
    await receiver.start()
    sink = make_sink(tmp_path, [receiver.url], receiver, retries=0, timeout_s=1.0)

    result = await sink.send([record(1)])
    await sink.close()
    await receiver.stop()

    assert result.retry == [1]
    assert result.error is not None
    assert result.error.error_code == "timeout"


async def test_redirect_not_followed(tmp_path: Path, receivers: list[Receiver]) -> None:
    first, second = receivers
    first.handler = lambda request: web.Response(status=302, headers={"Location": second.url})
    sink = make_sink(tmp_path, [first.url], first, retries=3)

    result = await sink.send([record(1)])
    await sink.close()

    assert isinstance(result.error, ConfigurationDeliveryError)
    assert result.status == 302
    assert len(first.requests) == 1
    assert second.requests == []


async def test_unauthorized_is_configuration(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    receiver.set_response_script("401")
    sink = make_sink(tmp_path, [receiver.url], receiver)

    result = await sink.send([record(1)])
    await sink.close()

    assert result.retry == [1]
    assert isinstance(result.error, ConfigurationDeliveryError)
    assert len(receiver.requests) == 1


async def test_rejected_batch_costs_one_event(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    bad_guid = record(2).guid.encode()

    def reject_bad(request: ReceivedRequest) -> web.Response | None:
        return web.Response(status=422) if bad_guid in request.body else None

    receiver.handler = reject_bad
    sink = make_sink(tmp_path, [receiver.url], receiver, batch_size=3)

    result = await sink.send([record(1), record(2), record(3)])
    await sink.close()

    assert sorted(result.delivered) == [1, 3]
    assert list(result.dead) == [2]
    assert "422" in result.dead[2]
    assert len(receiver.requests) == 4


async def test_signature_verifies_with_library(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    sink = make_sink(tmp_path, [receiver.url], receiver, signing=SigningKeys(current=SECRET))

    await sink.send([record(5)])
    await sink.close()

    request = receiver.requests[0]
    assert request.headers["webhook-id"] == record(5).guid
    Webhook(SECRET).verify(request.body, request.headers, json_parse=False)


async def test_rotation_carries_both_signatures(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    signing = SigningKeys(current=SECRET, previous=OLD_SECRET, previous_expires_at_s=4e9)
    sink = make_sink(tmp_path, [receiver.url], receiver, signing=signing)

    await sink.send([record(5)])
    await sink.close()

    request = receiver.requests[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(SECRET).verify(request.body, request.headers, json_parse=False)
    Webhook(OLD_SECRET).verify(request.body, request.headers, json_parse=False)


async def test_expired_previous_secret_dropped(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    signing = SigningKeys(current=SECRET, previous=OLD_SECRET, previous_expires_at_s=1.0)
    sink = make_sink(tmp_path, [receiver.url], receiver, signing=signing)

    await sink.send([record(5)])
    await sink.close()

    assert len(receiver.requests[0].headers["webhook-signature"].split(" ")) == 1


async def test_guard_rejects_private_literal(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    config = HttpsSinkConfig(endpoints=("https://10.20.30.40/hook",), retries=0)
    sink = HttpsSink(config, allowed_networks=())

    result = await sink.send([record(1)])
    await sink.close()

    assert isinstance(result.error, ConfigurationDeliveryError)
    assert result.error.error_code == "forbidden_address"
    assert receiver.requests == []


async def test_guard_rejects_loopback_name(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    url = receiver.url.replace("127.0.0.1", "localhost")
    config = HttpsSinkConfig(endpoints=(url,), retries=0)
    sink = HttpsSink(config, allowed_networks=())

    result = await sink.send([record(1)])
    await sink.close()

    assert isinstance(result.error, ConfigurationDeliveryError)
    assert result.error.error_code == "forbidden_address"
    assert receiver.requests == []


async def test_probe_reports_each_endpoint(tmp_path: Path, receivers: list[Receiver]) -> None:
    first, second = receivers
    first.set_response_script("500")
    sink = make_sink(tmp_path, [first.url, second.url], first, retries=2)

    passed, steps = await sink.probe(record(1))
    await sink.close()

    assert passed
    assert [step.status for step in steps] == [500, 200]
    assert steps[0].error_code == "http_500"
    assert len(first.requests) == 1


async def test_plain_secret_signs_utf8_bytes(tmp_path: Path, receivers: list[Receiver]) -> None:
    receiver = receivers[0]
    plain = "correct horse battery staple 42"
    sink = make_sink(tmp_path, [receiver.url], receiver, signing=SigningKeys(current=plain))

    await sink.send([record(5)])
    await sink.close()

    request = receiver.requests[0]
    Webhook(plain.encode("utf-8")).verify(request.body, request.headers, json_parse=False)
