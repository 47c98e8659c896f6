"""Named SQL queries kept in ``.sql`` files beside the code that runs them.

A query file holds blocks, each starting with a header line ``-- name: query_name``
and running to the next header. Other comment lines are kept as part of the query
text, which SQLite and PostgreSQL both ignore::

    -- name: get_domain
    SELECT id, name FROM domains WHERE id = :id;
"""

from __future__ import annotations

import re
from importlib import resources

# Query files live in the ``sql`` folder of this package.
QUERY_PACKAGE = "datastreams.store"
QUERY_FOLDER = "sql"

_HEADER = re.compile(r"^--\s*name:\s*(?P<name>\S+)\s*$")
_VALID_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def load_queries(filename: str) -> dict[str, str]:
    """Read ``filename`` from the package's ``sql`` folder and return its queries by name.

    Raises ``ValueError`` for text before the first header, an invalid or repeated
    name, or an empty query, so a broken file fails at import rather than at first use.
    """
    text = resources.files(QUERY_PACKAGE).joinpath(QUERY_FOLDER, filename).read_text("utf-8")
    return parse_queries(text, source=filename)


def parse_queries(text: str, *, source: str = "<string>") -> dict[str, str]:
    """Split the text of a query file into a dict of query name to SQL text."""
    queries: dict[str, str] = {}
    current_name: str | None = None
    current_lines: list[str] = []

    def finish() -> None:
        if current_name is None:
            return
        body = "\n".join(current_lines).strip()
        if not body:
            raise ValueError(f"{source}: query {current_name!r} is empty")
        queries[current_name] = body

    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header is None:
            if current_name is None and line.strip() and not line.lstrip().startswith("--"):
                raise ValueError(f"{source}:{number}: SQL text before the first '-- name:' header")
            current_lines.append(line)
            continue

        finish()
        name = header["name"]
        if not _VALID_NAME.match(name):
            raise ValueError(f"{source}:{number}: invalid query name {name!r}")
        if name in queries:
            raise ValueError(f"{source}:{number}: query {name!r} is defined twice")
        current_name = name
        current_lines = []

    finish()
    return queries
