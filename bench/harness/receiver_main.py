"""A receiver that presents a certificate authority kept in files.

``datastreams receiver`` makes a new CA at every start. The backlog scenario starts its
receiver only after the service has been running for a while, with the CA file it
was given at its own start, so the receiver must present a CA made in advance. Apart
from that it behaves like ``datastreams receiver --quiet --record FILE``.

Run as ``python -m bench.harness.receiver_main --port P --record FILE --ca-cert PEM
--ca-key PEM``; SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

import trustme

from datastreams.receiver import Receiver, ReceiverConfig

# The receiver keeps every request in memory for tests; a long run drops them this often.
DROP_REQUESTS_INTERVAL_S = 1.0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.harness.receiver_main")
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1.")
    parser.add_argument("--record", type=Path, required=True, help="Record file to append to.")
    parser.add_argument("--ca-cert", type=Path, required=True, help="PEM certificate of the CA.")
    parser.add_argument("--ca-key", type=Path, required=True, help="PEM private key of the CA.")
    parser.add_argument(
        "--delay-ms", type=int, default=0, help="Wait this many ms before each response."
    )
    return parser.parse_args()


async def receive(arguments: argparse.Namespace) -> None:
    ca = trustme.CA.from_pem(arguments.ca_cert.read_bytes(), arguments.ca_key.read_bytes())
    config = ReceiverConfig(
        port=arguments.port,
        delay_ms=arguments.delay_ms,
        quiet=True,
        record_path=str(arguments.record),
    )
    receiver = Receiver(config, ca=ca)

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stopping.set)

    await receiver.start()
    try:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=DROP_REQUESTS_INTERVAL_S)
            receiver.requests.clear()
    finally:
        await receiver.stop()


def main() -> None:
    asyncio.run(receive(parse_arguments()))


if __name__ == "__main__":
    main()
