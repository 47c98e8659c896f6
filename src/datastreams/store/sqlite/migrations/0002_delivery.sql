-- What the dispatchers record: dead letters, the latest attempts, per-minute counts
-- and each stream's state and totals. Every row belongs to a stream and goes with it.
--
-- From this migration on, deliveries holds only queued rows: a delivery given up on
-- moves to dead_letters.

-- A dead letter keeps its own copy of the event, so retention may delete the event
-- from the log and a redrive can still restore it with its original seq and guid.
-- AUTOINCREMENT keeps an id from being used twice, because clients redrive and
-- delete dead letters by id.
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    event_seq INTEGER NOT NULL,
    guid TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    type TEXT NOT NULL,
    time TEXT NOT NULL,
    received_at TEXT NOT NULL,
    line BLOB NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    queued_at TEXT NOT NULL,
    dead_at TEXT NOT NULL
);

-- Lists page by id. A redrive or delete by time range selects on the event's time.
CREATE INDEX dead_letters_stream_id ON dead_letters (stream_id, id);

CREATE INDEX dead_letters_stream_time ON dead_letters (stream_id, time);

-- The latest calls to each stream's destination. The store deletes the oldest rows
-- beyond a fixed number per stream in the transaction that inserts new ones.
CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    records INTEGER NOT NULL,
    endpoint TEXT,
    status INTEGER,
    error_code TEXT,
    message TEXT,
    latency_ms REAL NOT NULL DEFAULT 0
);

CREATE INDEX delivery_attempts_stream_id ON delivery_attempts (stream_id, id);

-- Events delivered and failed per stream and minute. minute is the canonical time
-- cut to the minute, such as '2024-01-01T10:05:00Z'. The store deletes rows older
-- than seven days.
CREATE TABLE stream_minute_stats (
    stream_id TEXT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    minute TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (stream_id, minute)
) WITHOUT ROWID;

-- A stream's delivery state and totals since it was created. failed_total counts
-- the events that were retried or became dead letters. A stream without a row is
-- idle and has delivered nothing.
CREATE TABLE stream_status (
    stream_id TEXT PRIMARY KEY REFERENCES streams (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    last_error TEXT,
    last_delivered_at TEXT,
    delivered_total INTEGER NOT NULL DEFAULT 0,
    failed_total INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
