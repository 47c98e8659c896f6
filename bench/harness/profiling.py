"""Profiles of ``datastreams serve`` under one scenario's load, sampled with py-spy.

    python -m bench.harness.profiling --scenario 1 --events 100000 --output DIR

It runs one service run of a scenario: ``1`` ingest without streams, ``2`` one
stream with batches of 500, ``3`` one event per request, or ``7`` a Kinesis, a
Firehose and an SQS stream delivering into the AWS stub. ``py-spy record`` samples
the service process 100 times a second and leaves idle threads out, so the samples
show where CPU time goes. The tool prints the functions with the most samples, per
thread, and keeps the raw collapsed stacks in DIR for flame graph tools.

py-spy must be installed in the same environment (``pip install py-spy``); it needs
permission to read another process's memory (ptrace), which root has.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from bench.harness.events import new_run_tag
from bench.harness.processes import HarnessError
from bench.scenarios.aws import run_aws_service
from bench.scenarios.common import (
    ROOT_DOMAIN,
    ServicePlan,
    StreamSpec,
    https_stream,
    run_service,
)
from bench.scenarios.end_to_end import batched_stream

SAMPLES_PER_S = 100
STOP_TIMEOUT_S = 60.0


class PySpyRecorder:
    """Records the stacks of one process with ``py-spy record`` in raw (collapsed) form."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, pid: int) -> None:
        executable = shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if executable is None:
            raise HarnessError("py-spy is not installed next to this Python; pip install py-spy")
        self._process = subprocess.Popen(
            [
                executable,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--output",
                str(self.output),
                "--rate",
                str(SAMPLES_PER_S),
                "--threads",
                "--function",
                "--nonblocking",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self._process is None:
            return
        # py-spy writes its output when interrupted, as on Ctrl+C.
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=STOP_TIMEOUT_S)


def summarize(raw_path: Path, top: int = 25) -> str:
    """Return the functions with the most samples, self and inclusive, for each thread."""
    self_samples: dict[str, Counter[str]] = defaultdict(Counter)
    inclusive_samples: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()

    for line in raw_path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        thread, *frames = stack.split(";")
        totals[thread] += count
        if frames:
            self_samples[thread][frames[-1]] += count
        for frame in set(frames):
            inclusive_samples[thread][frame] += count

    lines: list[str] = []
    for thread, total in totals.most_common():
        lines.append(f"{thread}: {total} samples ({total / SAMPLES_PER_S:.1f} s of CPU)")
        lines.append("  self:")
        for frame, count in self_samples[thread].most_common(top):
            lines.append(f"    {100 * count / total:5.1f}%  {frame}")
        lines.append("  inclusive:")
        for frame, count in inclusive_samples[thread].most_common(top):
            lines.append(f"    {100 * count / total:5.1f}%  {frame}")
    return "\n".join(lines)


def scenario_plan(scenario: str, count: int) -> ServicePlan:
    run_tag = new_run_tag()
    if scenario == "1":
        return ServicePlan(count=count, run_tag=run_tag)
    if scenario == "2":
        return ServicePlan(count=count, run_tag=run_tag, streams=[batched_stream()])
    body = https_stream("one-by-one", batch_size=1)
    return ServicePlan(count=count, run_tag=run_tag, streams=[StreamSpec(ROOT_DOMAIN, body)])


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.harness.profiling",
        description=(
            "Run one service run of a benchmark scenario with py-spy sampling the serve "
            "process, and print the functions with the most samples per thread. Needs "
            "py-spy in this environment (pip install -e '.[bench]')."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--scenario",
        choices=["1", "2", "3", "7"],
        required=True,
        help="1 ingest, 2 one batched stream, 3 one event per request, 7 AWS streams",
    )
    parser.add_argument("--events", type=int, default=100_000, help="Events to publish.")
    parser.add_argument("--output", type=Path, required=True, help="Folder for the raw stacks.")
    arguments = parser.parse_args()

    arguments.output.mkdir(parents=True, exist_ok=True)
    raw_path = arguments.output / f"scenario-{arguments.scenario}.txt"
    recorder = PySpyRecorder(raw_path)
    if arguments.scenario == "7":
        producer = run_aws_service(arguments.events, new_run_tag(), recorder).producer
    else:
        plan = scenario_plan(arguments.scenario, arguments.events)
        producer = run_service(plan, recorder).producer

    print(f"accepted {producer.accepted} of {arguments.events} events")
    if not raw_path.exists():
        print(f"py-spy wrote no samples to {raw_path}", file=sys.stderr)
        return 1
    print(summarize(raw_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
