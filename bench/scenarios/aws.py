"""Scenario 7: Kinesis, Firehose and SQS streams into a loopback stub.

The service can store such streams but has no sinks to deliver them yet, so this
scenario measures nothing and the report says "not built yet".
"""

from __future__ import annotations

from bench.harness.results import ScenarioResult
from bench.scenarios.common import RunContext

ID = "7"
TITLE = "Kinesis, Firehose and SQS into a loopback stub"


def run(context: RunContext) -> ScenarioResult:
    # TODO: measure once the AWS sinks exist, against a stub on 127.0.0.1.
    return ScenarioResult(
        id=ID,
        title=TITLE,
        status="not built yet",
        problems=["the Kinesis, Firehose and SQS sinks are not built yet"],
    )
