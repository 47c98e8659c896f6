"""The command-line side of generated reference documents (write, or check they are current)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def markdown_cell(text: str) -> str:
    """Return ``text`` safe for one cell of a Markdown table."""
    return text.replace("|", "\\|").replace("\n", " ")


def write_or_check(
    argv: Sequence[str] | None,
    *,
    command: str,
    description: str,
    default_output: Path,
    source: str,
    render: Callable[[], str],
) -> int:
    """Write the rendered document, or with ``--check`` return 1 when the file is out of date."""
    parser = argparse.ArgumentParser(prog=command, description=description)
    parser.add_argument(
        "output",
        nargs="?",
        type=Path,
        default=default_output,
        help=f"Markdown file to write (default: {default_output})",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"write nothing, and exit with status 1 when the file differs from the {source}",
    )
    args = parser.parse_args(argv)
    output: Path = args.output

    text = render()

    if args.check:
        current = output.read_text(encoding="utf-8") if output.exists() else None
        if current != text:
            print(f"{output} is out of date: run {command}", file=sys.stderr)
            return 1
        return 0

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8", newline="\n")
    print(f"Wrote {output}")
    return 0
