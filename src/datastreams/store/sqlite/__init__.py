"""The SQLite store: the embedded default, one database file in WAL mode."""

from datastreams.store.sqlite.store import SQLiteStore
from datastreams.store.sqlite.writer import WriterStats

__all__ = ["SQLiteStore", "WriterStats"]
