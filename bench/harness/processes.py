"""Child processes with bounded waits: start, wait for a port, stop, and run to completion.

Every wait here has a timeout, and a process that does not stop on SIGTERM is killed,
so a stuck service or receiver cannot hang a benchmark run.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT_S = 15.0
PORT_POLL_S = 0.05


class HarnessError(Exception):
    """A benchmark run could not be carried out: a process failed or a wait timed out."""


def python_command(module: str, *args: str) -> list[str]:
    """Return the command that runs ``python -m MODULE ARGS`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def clean_environment(**variables: str) -> dict[str, str]:
    """Return this process's environment without ``DATASTREAMS_*`` variables, plus ``variables``.

    A variable left in the calling shell would change the service under test.
    """
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("DATASTREAMS_")
    }
    environment.update(variables)
    return environment


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    # NOTE: another process may take the port before the caller binds it; on a
    # machine without other loopback servers starting at the same moment this is rare.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class ChildProcess:
    """A child process whose standard output and error go to a log file."""

    def __init__(self, name: str, command: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise HarnessError(f"{self.name} has not been started")
        return self.process.pid

    def start(self, environment: Mapping[str, str]) -> None:
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                self.command,
                env=dict(environment),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        logger.debug(
            "started %s (pid %d)", self.name, self.pid, extra={"action": "process_started"}
        )

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for_port(self, port: int, timeout_s: float) -> None:
        """Wait until something accepts TCP connections on 127.0.0.1:``port``."""
        deadline = time.monotonic() + timeout_s

        while time.monotonic() < deadline:
            if not self.is_running():
                raise HarnessError(f"{self.name} exited early; {self.log_tail()}")
            try:
                with socket.create_connection((LOOPBACK, port), timeout=1.0):
                    return
            except OSError:
                time.sleep(PORT_POLL_S)

        raise HarnessError(f"{self.name} did not listen on port {port} within {timeout_s:g} s")

    def wait(self, timeout_s: float) -> int:
        """Wait for the process to exit and return its exit code; kill it after ``timeout_s``."""
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            raise HarnessError(f"{self.name} did not finish within {timeout_s:g} s") from None

    def stop(self) -> int | None:
        """Stop the process with SIGTERM, or SIGKILL when it does not exit in time."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s did not stop within %g s; killing it",
                    self.name,
                    STOP_TIMEOUT_S,
                    extra={"action": "process_killed"},
                )
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        return self.process.returncode

    def log_tail(self, max_chars: int = 2000) -> str:
        """Return the end of the process's log, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "no log"
        tail = text[-max_chars:].strip()
        return f"last log lines of {self.name}:\n{tail}" if tail else f"{self.name} logged nothing"


def run_to_completion(
    name: str,
    command: Sequence[str],
    environment: Mapping[str, str],
    log_path: Path,
    timeout_s: float,
) -> None:
    """Run a command, wait for it, and raise ``HarnessError`` unless it exits with 0."""
    child = ChildProcess(name, command, log_path)
    child.start(environment)
    exit_code = child.wait(timeout_s)
    if exit_code != 0:
        raise HarnessError(f"{name} exited with {exit_code}; {child.log_tail()}")
