"""The producers: asyncio tasks in a process of their own, publishing with ``datastreams.client``.

Run as ``python -m bench.harness.producer PLAN.json RESULT.json``. The plan names the
service, the key, the events (``count`` typical events of the run tag, spread over
``domains``), the number of tasks, the batch size and an optional steady rate. Tasks
take the next batch number from a shared counter, so a slow request does not hold
back the others. With a rate, batch ``k`` is sent no earlier than ``k * batch / rate``
seconds after the start.

The result has the wall-clock time of the first send and of the last response, the
counts of accepted, duplicate and rejected events, and one entry per batch:
``[send start, response time, first index, count]`` (Unix times in seconds), from which
the harness computes ingest rates and per-event latency.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.harness.events import typical_event
from bench.harness.processes import (
    HarnessError,
    clean_environment,
    python_command,
    run_to_completion,
)
from datastreams.client import AsyncClient, ClientError

# Large batches wait behind each other in the service's writer queue under load.
REQUEST_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class ProducerPlan:
    """The events and pacing of one producer process; the harness writes it as JSON."""

    url: str
    api_key: str
    run_tag: int
    count: int
    domains: list[str]
    tasks: int = 4
    batch_size: int = 500
    rate_per_s: float | None = None

    def batch_count(self) -> int:
        return -(-self.count // self.batch_size)


@dataclass(slots=True)
class ProducerResult:
    """The report of one producer process; the harness reads it back from JSON."""

    first_send_at: float | None = None
    last_response_at: float | None = None
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: list[tuple[float, float, int, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProducerResult:
        result = cls(**data)
        result.batches = [(batch[0], batch[1], batch[2], batch[3]) for batch in data["batches"]]
        return result


async def publish_all(plan: ProducerPlan) -> ProducerResult:
    result = ProducerResult()
    # Built before the first publish, as the baselines build their rows before their
    # timer starts. On 2 cores, building events while publishing (about 5 us each,
    # measured) would take CPU time from the service being measured.
    events = [typical_event(plan.run_tag, index, plan.domains) for index in range(plan.count)]
    batch_numbers = itertools.count()
    started = time.monotonic()

    async def publish_batches(client: AsyncClient) -> None:
        # Every task takes batch numbers from one counter until they run out.
        for batch_number in batch_numbers:
            first = batch_number * plan.batch_size
            if first >= plan.count:
                return
            count = min(plan.batch_size, plan.count - first)

            if plan.rate_per_s is not None:
                due = started + first / plan.rate_per_s
                await asyncio.sleep(max(0.0, due - time.monotonic()))

            await publish_batch(client, events[first : first + count], first, result)

    clients = [
        AsyncClient(plan.url, plan.api_key, timeout_s=REQUEST_TIMEOUT_S) for _ in range(plan.tasks)
    ]
    try:
        await asyncio.gather(*(publish_batches(client) for client in clients))
    finally:
        for client in clients:
            await client.aclose()
    return result


async def publish_batch(
    client: AsyncClient, events: list[dict[str, Any]], first: int, result: ProducerResult
) -> None:
    sent_at = time.time()
    if result.first_send_at is None:
        result.first_send_at = sent_at

    try:
        published = await client.publish(events)
    except ClientError as error:
        result.errors.append(f"batch from event {first}: {error}")
        return

    responded_at = time.time()
    result.last_response_at = max(result.last_response_at or 0.0, responded_at)
    result.accepted += published.accepted
    result.duplicates += published.duplicates
    result.rejected += published.rejected
    result.batches.append((sent_at, responded_at, first, len(events)))
    if published.rejected and len(result.errors) < 10:
        rejected = next(item for item in published.items if item.status == "rejected")
        result.errors.append(f"event {first + rejected.index} was rejected: {rejected.error}")


def run_producer(
    plan: ProducerPlan,
    directory: Path,
    timeout_s: float,
    environment: Mapping[str, str] | None = None,
) -> ProducerResult:
    """Run the producer process for ``plan`` and return its result.

    ``environment`` replaces the default, this process's environment without
    ``DATASTREAMS_*`` variables.
    """
    plan_path = directory / "producer-plan.json"
    result_path = directory / "producer-result.json"
    plan_path.write_bytes(orjson.dumps(asdict(plan)))
    result_path.unlink(missing_ok=True)

    run_to_completion(
        "producer",
        python_command("bench.harness.producer", str(plan_path), str(result_path)),
        environment if environment is not None else clean_environment(),
        directory / "producer.log",
        timeout_s,
    )
    if not result_path.exists():
        raise HarnessError("the producer exited without writing its result")
    return ProducerResult.from_json(orjson.loads(result_path.read_bytes()))


def main() -> None:
    plan_path, result_path = (Path(argument) for argument in sys.argv[1:3])
    plan = ProducerPlan(**orjson.loads(plan_path.read_bytes()))
    result = asyncio.run(publish_all(plan))
    result_path.write_bytes(orjson.dumps(asdict(result)))


if __name__ == "__main__":
    main()
