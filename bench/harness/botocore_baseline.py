"""Bare botocore loops that write to Kinesis: the baselines of the AWS scenario.

Run as ``python -m bench.harness.botocore_baseline PLAN.json RESULT.json`` in the
environment of ``aws_environment``, so the client signs with dummy credentials and
sends to the stub. With ``operation`` ``PutRecords`` one loop sends ready batches of
up to 500 records, one call at a time. With ``PutRecord`` it sends one call per
event. The records are the events' canonical lines with the domain id as partition
key, as the service's Kinesis stream sends them. They are built, and the client is
created, before the clock starts, so the loop measures only botocore and the stub.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from bench.harness.events import domain_of, typical_line
from bench.harness.processes import HarnessError, python_command, run_to_completion

MAX_RECORDS_PER_CALL = 500
MAX_ERRORS_KEPT = 10

Operation = Literal["PutRecords", "PutRecord"]


@dataclass(frozen=True, slots=True)
class BotocorePlan:
    """The stream, the events and the operation of one baseline process."""

    stream_name: str
    region: str
    run_tag: int
    count: int
    domains: list[str]
    operation: Operation = "PutRecords"


@dataclass(slots=True)
class BotocoreResult:
    """The outcome of one baseline process (Unix times in seconds)."""

    first_send_at: float | None = None
    last_response_at: float | None = None
    succeeded: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def build_records(plan: BotocorePlan) -> list[dict[str, Any]]:
    """Return the PutRecords entries of the plan's events, in order."""
    return [
        {
            "Data": typical_line(plan.run_tag, index, plan.domains),
            "PartitionKey": domain_of(index, plan.domains),
        }
        for index in range(plan.count)
    ]


def batches_of(records: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [records[start : start + size] for start in range(0, len(records), size)]


def send_all(plan: BotocorePlan, client: Any) -> BotocoreResult:
    """Send the plan's events with ``client``; return the counts and the clock times."""
    records = build_records(plan)
    batches = batches_of(records, MAX_RECORDS_PER_CALL)
    result = BotocoreResult()
    result.first_send_at = time.time()

    if plan.operation == "PutRecords":
        for batch in batches:
            response = client.put_records(StreamName=plan.stream_name, Records=batch)
            failed = int(response.get("FailedRecordCount") or 0)
            result.succeeded += len(batch) - failed
            _note_failures(result, failed, "PutRecords reported failed records")
    else:
        for record in records:
            client.put_record(StreamName=plan.stream_name, **record)
            result.succeeded += 1

    result.last_response_at = time.time()
    return result


def _note_failures(result: BotocoreResult, failed: int, message: str) -> None:
    if not failed:
        return
    result.failed += failed
    if len(result.errors) < MAX_ERRORS_KEPT:
        result.errors.append(f"{message}: {failed}")


def run_botocore_baseline(
    plan: BotocorePlan, directory: Path, environment: dict[str, str], timeout_s: float
) -> BotocoreResult:
    """Run one baseline process for ``plan`` in ``environment`` and return its result."""
    plan_path = directory / "botocore-plan.json"
    result_path = directory / "botocore-result.json"
    plan_path.write_bytes(orjson.dumps(asdict(plan)))
    result_path.unlink(missing_ok=True)

    run_to_completion(
        f"botocore {plan.operation} baseline",
        python_command("bench.harness.botocore_baseline", str(plan_path), str(result_path)),
        environment,
        directory / "botocore-baseline.log",
        timeout_s,
    )
    if not result_path.exists():
        raise HarnessError("the botocore baseline exited without writing its result")
    return BotocoreResult(**orjson.loads(result_path.read_bytes()))


def main() -> None:
    import botocore.session

    plan_path, result_path = (Path(argument) for argument in sys.argv[1:3])
    plan = BotocorePlan(**orjson.loads(plan_path.read_bytes()))
    # The endpoint and credentials come from the environment, as they do for the service.
    client = botocore.session.get_session().create_client("kinesis", region_name=plan.region)
    try:
        result = send_all(plan, client)
    finally:
        client.close()
    result_path.write_bytes(orjson.dumps(asdict(result)))


if __name__ == "__main__":
    main()
