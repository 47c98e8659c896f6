-- The whole current schema of the SQLite store, for readers and for the test that
-- checks that applying every file in migrations/ gives the same schema. The store
-- itself only runs the migrations: change this file together with a new migration.

-- Applied migrations, one row per file of migrations/ (created by migrations.py).
CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

-- Times are text in the container's format ('YYYY-MM-DDTHH:MM:SS.fffffffZ'), which
-- sorts in time order. Ids are text chosen by the service.

CREATE TABLE domains (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent_id TEXT REFERENCES domains (id),
    external_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX domains_parent_id ON domains (parent_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'producer')),
    domain_id TEXT NOT NULL REFERENCES domains (id),
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE INDEX api_keys_domain_id ON api_keys (domain_id);

-- config contains the stream's API representation without secrets, and secrets a
-- Fernet token. The unique constraint also serves lookups by domain.
CREATE TABLE streams (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES domains (id),
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    version INTEGER NOT NULL CHECK (version >= 1),
    config TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
    secrets BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (domain_id, type, name)
);

-- seq is the log order. AUTOINCREMENT keeps a seq from being used twice when
-- retention deletes the newest rows, because deliveries and list cursors refer to it.
-- domain_id has no foreign key: the log keeps the events of a deleted domain
-- until retention removes them.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    guid TEXT NOT NULL UNIQUE,
    domain_id TEXT NOT NULL,
    type TEXT NOT NULL,
    time TEXT NOT NULL,
    received_at TEXT NOT NULL,
    line BLOB NOT NULL
);

CREATE INDEX events_received_at ON events (received_at);

CREATE INDEX events_domain_id_seq ON events (domain_id, seq);

-- One row per (stream, event) still to deliver. status is 'queued'; it has no CHECK
-- so that later states need no table rebuild. A delivery given up on moves to
-- dead_letters. Deleting a stream deletes its queue. Deleting an event (retention
-- skips events with a queued delivery) deletes its remaining rows.
-- NOTE: dispatcher leases are still to come, in a later migration.
CREATE TABLE deliveries (
    stream_id TEXT NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    event_seq INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    queued_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    PRIMARY KEY (stream_id, event_seq)
) WITHOUT ROWID;

-- A dispatcher claims the next queued entries of its stream in log order. A partial
-- index (WHERE status = 'queued') would be smaller, but without ANALYZE statistics
-- SQLite prefers the primary key over it and then skips the dead entries one by one.
CREATE INDEX deliveries_stream_status ON deliveries (stream_id, status, event_seq);

-- Retention looks up the deliveries of an event, and so does the foreign key's
-- cascade when an event is deleted.
CREATE INDEX deliveries_event_seq ON deliveries (event_seq);

-- A single-row counter that grows with every change to domains, API keys and
-- streams, whichever process makes it. Long-running processes compare it to
-- notice changes made by another process, such as the command line.
CREATE TABLE config_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
);

INSERT INTO config_epoch (id, epoch) VALUES (1, 0);

CREATE TRIGGER domains_insert_epoch AFTER INSERT ON domains
BEGIN
    UPDATE config_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER domains_update_epoch AFTER UPDATE ON domains
BEGIN
    UPDATE config_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER domains_delete_epoch AFTER DELETE ON domains
BEGIN
    UPDATE config_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER api_keys_insert_epoch AFTER INSERT ON api_keys
BEGIN
    UPDATE config_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER api_keys_update_epoch AFTER UPDATE ON api_keys
BEGIN
    UPDATE config_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER api_keys_delete_epoch AFTER DELETE ON api_keys
BEGIN
    UPDATE config_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER streams_insert_epoch AFTER INSERT ON streams
BEGIN
    UPDATE config_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER streams_update_epoch AFTER UPDATE ON streams
BEGIN
    UPDATE config_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER streams_delete_epoch AFTER DELETE ON streams
BEGIN
    UPDATE config_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

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

-- Retention removes dead letters older than the configured time, oldest first.
CREATE INDEX dead_letters_dead_at ON dead_letters (dead_at);

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
