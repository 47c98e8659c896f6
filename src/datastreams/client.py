"""Python client for publishing events to Data Streams.

``Client`` and ``AsyncClient`` have the same interface::

    with Client("http://127.0.0.1:8000", "dsp_...") as client:
        result = client.publish([{"domainId": "1176022", "type": "UserEntityCreated",
                                  "data": {"userId": "42"}}])
        for item in result.items:
            if item.status == "rejected":
                print(item.index, item.error)

``publish`` gives every event without a ``guid`` a new lower-case UUID (in place, in
the caller's dict) before the first request. A retried request therefore never
stores an event twice: the service returns ``duplicate`` for a guid it already has,
even when the same dicts are published again after an error.

Events go out as NDJSON in batches bounded by item count and bytes. A 429, a 5xx
or a connection error is retried with exponential back-off and jitter, waiting at
least what ``Retry-After`` requests. A batch rejected with 413 is split in half and sent
again, down to single events. Any other 4xx raises ``ClientError`` with the service's
error body.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal

import httpx
import orjson

from datastreams import __version__

DEFAULT_MAX_BATCH_ITEMS = 500
# A quarter of the service's default body limit (16 MiB), so one request stays
# short enough to retry cheaply.
DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024
DEFAULT_BACKOFF_BASE_S = 0.5
DEFAULT_BACKOFF_MAX_S = 30.0
# A Retry-After longer than this is treated as this long.
MAX_RETRY_AFTER_S = 600.0

INGEST_PATH = "/api/v1/events"
NDJSON_MEDIA_TYPE = "application/x-ndjson"

ItemStatus = Literal["accepted", "duplicate", "rejected"]
RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True, slots=True)
class PublishItem:
    """The result for one published event; ``index`` is its position in the input."""

    index: int
    status: ItemStatus
    guid: str | None = None
    time: str | None = None
    error: dict[str, Any] | None = None


@dataclass(slots=True)
class PublishResult:
    """Counts and per-event results of one ``publish`` call, in input order."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    items: list[PublishItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no event was rejected."""
        return self.rejected == 0


class ClientError(Exception):
    """The service rejected a request, or retries were exhausted.

    ``status_code`` is ``None`` when no response arrived. ``code``, ``message`` and
    ``fields`` come from the service's error body. ``result`` contains the results
    of the batches that completed before the error.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        fields: list[dict[str, Any]] | None = None,
        body: Any = None,
        result: PublishResult | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.fields = list(fields or [])
        self.body = body
        self.result = result

    def __str__(self) -> str:
        parts = [self.message]
        for item in self.fields:
            parts.append(f"{item.get('field')}: {item.get('message')}")
        return "; ".join(parts)


@dataclass(slots=True)
class _Batch:
    start: int
    lines: list[bytes]

    def body(self) -> bytes:
        return b"\n".join(self.lines) + b"\n"

    def halves(self) -> list[_Batch]:
        middle = len(self.lines) // 2
        return [
            _Batch(self.start, self.lines[:middle]),
            _Batch(self.start + middle, self.lines[middle:]),
        ]


@dataclass(slots=True)
class _Retry:
    """A request that may pass if sent again: the reason and the server's requested wait."""

    reason: str
    status_code: int | None
    retry_after_s: float | None


class _Split:
    """The batch was too large for the service and must be sent in halves."""


class _Publisher:
    """The parts of publishing that do no I/O, shared by both clients."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        max_retries: int,
        max_batch_items: int,
        max_batch_bytes: int,
        backoff_base_s: float,
        backoff_max_s: float,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        if max_batch_items < 1:
            raise ValueError(f"max_batch_items must be 1 or more, got {max_batch_items}")
        if max_batch_bytes < 1:
            raise ValueError(f"max_batch_bytes must be 1 or more, got {max_batch_bytes}")

        self.ingest_url = url.rstrip("/") + INGEST_PATH
        self.headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": NDJSON_MEDIA_TYPE,
            "User-Agent": f"datastreams-client/{__version__}",
        }
        self.max_retries = max_retries
        self.max_batch_items = max_batch_items
        self.max_batch_bytes = max_batch_bytes
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s

    def batches(self, events: Iterable[dict[str, Any]]) -> list[_Batch]:
        """Assign missing guids, encode each event, and split them into batches."""
        batches: list[_Batch] = []
        current = _Batch(0, [])
        current_bytes = 0

        for index, event in enumerate(events):
            if event.get("guid") is None:
                event["guid"] = str(uuid.uuid4())
            try:
                line = orjson.dumps(event)
            except TypeError as error:
                raise ValueError(f"event {index} cannot be encoded as JSON: {error}") from None

            line_bytes = len(line) + 1
            full = len(current.lines) >= self.max_batch_items
            if current.lines and (full or current_bytes + line_bytes > self.max_batch_bytes):
                batches.append(current)
                current = _Batch(index, [])
                current_bytes = 0
            current.lines.append(line)
            current_bytes += line_bytes

        if current.lines:
            batches.append(current)
        return batches

    def interpret(
        self, batch: _Batch, response: httpx.Response
    ) -> list[PublishItem] | _Retry | _Split:
        """Turn the service's response to one batch into items, a retry or a split."""
        status = response.status_code
        body = _json_body(response)

        if status in (202, 422) and isinstance(body, dict) and isinstance(body.get("items"), list):
            return [_item_of(batch.start, item) for item in body["items"]]
        if status == 429 or status >= 500:
            return _Retry(f"HTTP {status}", status, _retry_after_s(response))
        if status == 413 and len(batch.lines) > 1:
            return _Split()
        raise _client_error(status, body)

    def delay_s(self, attempt: int, retry_after_s: float | None) -> float:
        """Return the wait before retry ``attempt`` (1 for the first retry)."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        # Half fixed and half random, so clients that failed together spread out.
        backoff = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after_s is None:
            return backoff
        return max(backoff, min(retry_after_s, MAX_RETRY_AFTER_S))

    def exhausted(self, retry: _Retry, result: PublishResult) -> ClientError:
        """Return the error raised when every retry of a batch failed."""
        attempts = self.max_retries + 1
        return ClientError(
            f"publishing failed after {attempts} attempts: {retry.reason}",
            status_code=retry.status_code,
            result=result,
        )


class Client:
    """Publishes events to a Data Streams service; see the module docstring."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout_s: float = 10,
        max_retries: int = 5,
        max_batch_items: int = DEFAULT_MAX_BATCH_ITEMS,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._publisher = _Publisher(
            url,
            api_key,
            max_retries=max_retries,
            max_batch_items=max_batch_items,
            max_batch_bytes=max_batch_bytes,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
        )
        self._http = httpx.Client(timeout=timeout_s, transport=transport)

    def publish(self, events: Iterable[dict[str, Any]]) -> PublishResult:
        """Publish ``events`` and return the result for each, in input order."""
        publisher = self._publisher
        result = PublishResult()
        pending = publisher.batches(events)

        while pending:
            batch = pending.pop(0)
            outcome = self._send(batch, result)
            if isinstance(outcome, _Split):
                pending[:0] = batch.halves()
            else:
                _merge(result, outcome)
        return result

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, batch: _Batch, result: PublishResult) -> list[PublishItem] | _Split:
        publisher = self._publisher
        body = batch.body()
        attempt = 0

        while True:
            try:
                response = self._http.post(
                    publisher.ingest_url, content=body, headers=publisher.headers
                )
                outcome = publisher.interpret(batch, response)
            except RETRYABLE_ERRORS as error:
                outcome = _Retry(f"{type(error).__name__}: {error}", None, None)
            except ClientError as error:
                error.result = result
                raise

            if not isinstance(outcome, _Retry):
                return outcome
            attempt += 1
            if attempt > publisher.max_retries:
                raise publisher.exhausted(outcome, result)
            time.sleep(publisher.delay_s(attempt, outcome.retry_after_s))


class AsyncClient:
    """Publishes events to a Data Streams service from asyncio code; see ``Client``."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout_s: float = 10,
        max_retries: int = 5,
        max_batch_items: int = DEFAULT_MAX_BATCH_ITEMS,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._publisher = _Publisher(
            url,
            api_key,
            max_retries=max_retries,
            max_batch_items=max_batch_items,
            max_batch_bytes=max_batch_bytes,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
        )
        self._http = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def publish(self, events: Iterable[dict[str, Any]]) -> PublishResult:
        """Publish ``events`` and return the result for each, in input order."""
        publisher = self._publisher
        result = PublishResult()
        pending = publisher.batches(events)

        while pending:
            batch = pending.pop(0)
            outcome = await self._send(batch, result)
            if isinstance(outcome, _Split):
                pending[:0] = batch.halves()
            else:
                _merge(result, outcome)
        return result

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, batch: _Batch, result: PublishResult) -> list[PublishItem] | _Split:
        publisher = self._publisher
        body = batch.body()
        attempt = 0

        while True:
            try:
                response = await self._http.post(
                    publisher.ingest_url, content=body, headers=publisher.headers
                )
                outcome = publisher.interpret(batch, response)
            except RETRYABLE_ERRORS as error:
                outcome = _Retry(f"{type(error).__name__}: {error}", None, None)
            except ClientError as error:
                error.result = result
                raise

            if not isinstance(outcome, _Retry):
                return outcome
            attempt += 1
            if attempt > publisher.max_retries:
                raise publisher.exhausted(outcome, result)
            await asyncio.sleep(publisher.delay_s(attempt, outcome.retry_after_s))


def _merge(result: PublishResult, items: list[PublishItem]) -> None:
    # Batches complete in input order (a split batch is sent before the next one),
    # so appending keeps the items in input order.
    for item in items:
        if item.status == "accepted":
            result.accepted += 1
        elif item.status == "duplicate":
            result.duplicates += 1
        else:
            result.rejected += 1
        result.items.append(item)


def _item_of(start: int, item: dict[str, Any]) -> PublishItem:
    return PublishItem(
        index=start + int(item["index"]),
        status=item["status"],
        guid=item.get("guid"),
        time=item.get("time"),
        error=item.get("error"),
    )


def _json_body(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _client_error(status: int, body: Any) -> ClientError:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ClientError(
            f"the service responded with HTTP {status}", status_code=status, body=body
        )
    return ClientError(
        str(error.get("message") or f"the service responded with HTTP {status}"),
        status_code=status,
        code=error.get("code"),
        fields=error.get("fields") or [],
        body=body,
    )


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None

    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
