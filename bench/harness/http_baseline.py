"""Bare aiohttp clients that post one event per request: the baselines of the HTTPS scenarios.

Run as ``python -m bench.harness.http_baseline PLAN.json RESULT.json``. The plan names
the receiver, its CA file, the events, how many requests are in flight, and whether
each request opens a new connection. The events are the canonical lines the service
would send, encoded before the clock starts, so the loop measures only HTTPS.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp
import orjson

from bench.harness.events import typical_line
from bench.harness.processes import (
    HarnessError,
    clean_environment,
    python_command,
    run_to_completion,
)

REQUEST_TIMEOUT_S = 30.0
MAX_ERRORS_KEPT = 10


@dataclass(frozen=True, slots=True)
class HttpPlan:
    """The work of one baseline process."""

    url: str
    ca_file: str
    run_tag: int
    count: int
    domains: list[str]
    in_flight: int = 1
    new_connection: bool = False


@dataclass(slots=True)
class HttpResult:
    """The report of one baseline process (Unix times in seconds)."""

    first_send_at: float | None = None
    last_response_at: float | None = None
    succeeded: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


async def post_all(plan: HttpPlan) -> HttpResult:
    lines = [typical_line(plan.run_tag, index, plan.domains) for index in range(plan.count)]
    context = ssl.create_default_context(cafile=plan.ca_file)
    # force_close closes each connection after its response, so every request pays
    # for a new TCP connection and TLS handshake.
    connector = aiohttp.TCPConnector(
        ssl=context, limit=plan.in_flight, force_close=plan.new_connection
    )
    headers = {"Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    result = HttpResult()
    indexes = iter(range(plan.count))

    async def post_lines(session: aiohttp.ClientSession) -> None:
        for index in indexes:
            sent_at = time.time()
            if result.first_send_at is None:
                result.first_send_at = sent_at
            try:
                async with session.post(plan.url, data=lines[index], headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as error:
                _note_failure(result, f"event {index}: {error!r}")
                continue
            if 200 <= status < 300:
                result.succeeded += 1
            else:
                _note_failure(result, f"event {index}: HTTP {status}")
            result.last_response_at = time.time()

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(post_lines(session) for _ in itertools.repeat(None, plan.in_flight)))
    return result


def _note_failure(result: HttpResult, message: str) -> None:
    result.failed += 1
    if len(result.errors) < MAX_ERRORS_KEPT:
        result.errors.append(message)


def run_http_baseline(plan: HttpPlan, directory: Path, timeout_s: float) -> HttpResult:
    """Run one baseline process for ``plan`` and return its result."""
    plan_path = directory / "http-plan.json"
    result_path = directory / "http-result.json"
    plan_path.write_bytes(orjson.dumps(asdict(plan)))
    result_path.unlink(missing_ok=True)

    run_to_completion(
        "HTTPS baseline",
        python_command("bench.harness.http_baseline", str(plan_path), str(result_path)),
        clean_environment(),
        directory / "http-baseline.log",
        timeout_s,
    )
    if not result_path.exists():
        raise HarnessError("the HTTPS baseline exited without writing its result")
    return HttpResult(**orjson.loads(result_path.read_bytes()))


def main() -> None:
    plan_path, result_path = (Path(argument) for argument in sys.argv[1:3])
    plan = HttpPlan(**orjson.loads(plan_path.read_bytes()))
    result = asyncio.run(post_all(plan))
    result_path.write_bytes(orjson.dumps(asdict(result)))


if __name__ == "__main__":
    main()
