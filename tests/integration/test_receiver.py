"""The HTTPS receiver that tests, benchmarks and users point streams at."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from datastreams.receiver import Receiver, ReceiverConfig, parse_response_script

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_response_script_repeats_last_step() -> None:
    script = parse_response_script("503x2,429:3,200")

    statuses = [script.next_step().status for _ in range(6)]

    assert statuses == [503, 503, 429, 200, 200, 200]


def test_response_script_names_bad_step() -> None:
    with pytest.raises(ValueError, match="'50x'"):
        parse_response_script("200,50x")


async def test_receiver_answers_script(tmp_path: Path) -> None:
    record = tmp_path / "record.ndjson"
    config = ReceiverConfig(respond="503:7,200", record_path=str(record))

    async with Receiver(config) as receiver:
        async with httpx.AsyncClient(verify=receiver.client_ssl_context()) as client:
            first = await client.post(receiver.url, content=b'{"guid":"a"}')
            second = await client.post(receiver.url, content=b'{"guid":"b"}\n{"guid":"c"}\n')

    assert first.status_code == 503
    assert first.headers["Retry-After"] == "7"
    assert second.status_code == 200
    assert receiver.received_lines() == [b'{"guid":"b"}', b'{"guid":"c"}']
    lines = [orjson.loads(line) for line in record.read_bytes().splitlines()]
    assert [line["status"] for line in lines] == [503, 200]
    assert lines[1]["events"] == ['{"guid":"b"}', '{"guid":"c"}']


async def test_receiver_writes_ca_file(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"

    async with Receiver(ReceiverConfig(ca_out=str(ca_file))) as receiver:
        context = ssl.create_default_context(cafile=str(ca_file))
        async with httpx.AsyncClient(verify=context) as client:
            response = await client.put(receiver.url, content=b"{}")

    assert response.status_code == 200
    assert receiver.requests[0].method == "PUT"


async def test_receiver_verifies_signatures() -> None:
    body = b'{"guid":"d"}'
    timestamp = datetime.now(UTC)
    signature = Webhook(SECRET).sign("d", timestamp, body)
    good_headers = {
        "webhook-id": "d",
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
    bad_headers = dict(good_headers, **{"webhook-signature": "v1,AAAA"})

    async with Receiver(ReceiverConfig(signing_secrets=[SECRET])) as receiver:
        async with httpx.AsyncClient(verify=receiver.client_ssl_context()) as client:
            good = await client.post(receiver.url, content=body, headers=good_headers)
            bad = await client.post(receiver.url, content=body, headers=bad_headers)

    assert good.status_code == 200
    assert bad.status_code == 401
    assert [request.signature_valid for request in receiver.requests] == [True, False]
