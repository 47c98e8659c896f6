-- Queries of the SQLite store, loaded by datastreams.store.queries.load_queries.
--
-- Lists of ids travel as one JSON array parameter read with json_each, so a
-- statement does not depend on the number of ids. Paging uses "id > :after", where
-- coalesce(:after, '') starts at the first id because ids are never empty.


-- name: get_config_epoch
SELECT epoch FROM config_epoch WHERE id = 1;


-- name: insert_domain
INSERT INTO domains (id, name, parent_id, external_id, created_at, updated_at)
VALUES (:id, :name, :parent_id, :external_id, :created_at, :updated_at);

-- name: get_domain
SELECT id, name, parent_id, external_id, created_at, updated_at
FROM domains
WHERE id = :id;

-- name: list_domains
SELECT id, name, parent_id, external_id, created_at, updated_at
FROM domains
WHERE id > coalesce(:after, '')
ORDER BY id
LIMIT :limit;

-- name: list_domains_within
-- The domains of :root_ids (a JSON array) and all their descendants.
WITH RECURSIVE subtree (id) AS (
    SELECT id FROM domains WHERE id IN (SELECT value FROM json_each(:root_ids))
    UNION
    SELECT domains.id FROM domains JOIN subtree ON domains.parent_id = subtree.id
)
SELECT id, name, parent_id, external_id, created_at, updated_at
FROM domains
WHERE id IN subtree AND id > coalesce(:after, '')
ORDER BY id
LIMIT :limit;

-- name: list_all_domains
SELECT id, name, parent_id, external_id, created_at, updated_at FROM domains;

-- name: is_within
-- Whether :domain_id or one of its ancestors is in :root_ids (a JSON array).
-- UNION rather than UNION ALL stops the walk if the parent links ever form a cycle.
WITH RECURSIVE lineage (id, parent_id) AS (
    SELECT id, parent_id FROM domains WHERE id = :domain_id
    UNION
    SELECT domains.id, domains.parent_id FROM domains JOIN lineage ON domains.id = lineage.parent_id
)
SELECT EXISTS (
    SELECT 1 FROM lineage WHERE id IN (SELECT value FROM json_each(:root_ids))
);

-- name: update_domain
UPDATE domains
SET name = :name, parent_id = :parent_id, updated_at = :updated_at
WHERE id = :id;

-- name: count_domain_dependents
SELECT
    (SELECT count(*) FROM domains WHERE parent_id = :id) AS child_domains,
    (SELECT count(*) FROM streams WHERE domain_id = :id) AS streams,
    (SELECT count(*) FROM api_keys WHERE domain_id = :id) AS api_keys;

-- name: delete_domain
DELETE FROM domains WHERE id = :id;


-- name: insert_api_key
INSERT INTO api_keys (id, role, domain_id, key_hash, prefix, name, created_at, revoked_at)
VALUES (:id, :role, :domain_id, :key_hash, :prefix, :name, :created_at, :revoked_at);

-- name: get_api_key
SELECT id, role, domain_id, key_hash, prefix, name, created_at, revoked_at
FROM api_keys
WHERE id = :id;

-- name: find_api_key
SELECT id, role, domain_id, key_hash, prefix, name, created_at, revoked_at
FROM api_keys
WHERE key_hash = :key_hash;

-- name: api_key_exists
SELECT
    EXISTS (SELECT 1 FROM api_keys WHERE id = :id) AS id_taken,
    EXISTS (SELECT 1 FROM api_keys WHERE key_hash = :key_hash) AS hash_taken;

-- name: list_api_keys
SELECT id, role, domain_id, key_hash, prefix, name, created_at, revoked_at
FROM api_keys
WHERE id > coalesce(:after, '')
ORDER BY id
LIMIT :limit;

-- name: list_api_keys_within
WITH RECURSIVE subtree (id) AS (
    SELECT id FROM domains WHERE id IN (SELECT value FROM json_each(:root_ids))
    UNION
    SELECT domains.id FROM domains JOIN subtree ON domains.parent_id = subtree.id
)
SELECT id, role, domain_id, key_hash, prefix, name, created_at, revoked_at
FROM api_keys
WHERE domain_id IN subtree AND id > coalesce(:after, '')
ORDER BY id
LIMIT :limit;

-- name: revoke_api_key
-- A key revoked twice keeps the time of its first revocation.
UPDATE api_keys SET revoked_at = coalesce(revoked_at, :revoked_at) WHERE id = :id;


-- name: insert_stream
INSERT INTO streams (
    id, domain_id, type, name, description, enabled, version, config, secrets,
    created_at, updated_at
)
VALUES (
    :id, :domain_id, :type, :name, :description, :enabled, :version, :config, :secrets,
    :created_at, :updated_at
);

-- name: get_stream
SELECT
    id, domain_id, type, name, description, enabled, version, config, secrets,
    created_at, updated_at
FROM streams
WHERE domain_id = :domain_id AND id = :id;

-- name: stream_id_exists
SELECT EXISTS (SELECT 1 FROM streams WHERE id = :id);

-- name: find_stream_by_name
SELECT id FROM streams WHERE domain_id = :domain_id AND type = :type AND name = :name;

-- name: list_streams
SELECT
    id, domain_id, type, name, description, enabled, version, config, secrets,
    created_at, updated_at
FROM streams
WHERE id > coalesce(:after, '')
ORDER BY id
LIMIT :limit;

-- name: list_streams_of_domain
SELECT
    id, domain_id, type, name, description, enabled, version, config, secrets,
    created_at, updated_at
FROM streams
WHERE domain_id = :domain_id AND id > coalesce(:after, '')
ORDER BY id
LIMIT :limit;

-- name: list_all_streams
SELECT
    id, domain_id, type, name, description, enabled, version, config, secrets,
    created_at, updated_at
FROM streams;

-- name: update_stream
UPDATE streams
SET
    name = :name,
    description = :description,
    enabled = :enabled,
    version = version + 1,
    config = :config,
    secrets = :secrets,
    updated_at = :updated_at
WHERE domain_id = :domain_id AND id = :id AND version = :expected_version;

-- name: delete_stream
-- The stream's deliveries go with it (ON DELETE CASCADE).
DELETE FROM streams WHERE domain_id = :domain_id AND id = :id;


-- name: find_stored_guids
SELECT guid, time FROM events WHERE guid IN (SELECT value FROM json_each(:guids));

-- name: get_last_seq
-- The highest seq ever given: sqlite_sequence keeps it after the newest rows are
-- deleted, and max(seq) covers a log that has never had a row.
SELECT max(
    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
    coalesce((SELECT max(seq) FROM events), 0)
);

-- name: insert_event
INSERT INTO events (seq, guid, domain_id, type, time, received_at, line)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (guid) DO NOTHING;

-- name: insert_delivery
INSERT INTO deliveries (stream_id, event_seq, status, attempts, queued_at, next_attempt_at)
VALUES (?, ?, 'queued', 0, ?, ?);

-- name: get_event
SELECT seq, guid, domain_id, type, time, received_at, line FROM events WHERE guid = :guid;

-- name: list_events
SELECT seq, guid, domain_id, type, time, received_at, line
FROM events
WHERE seq > :after_seq
ORDER BY seq
LIMIT :limit;

-- name: list_events_within
WITH RECURSIVE subtree (id) AS (
    SELECT id FROM domains WHERE id IN (SELECT value FROM json_each(:root_ids))
    UNION
    SELECT domains.id FROM domains JOIN subtree ON domains.parent_id = subtree.id
)
SELECT seq, guid, domain_id, type, time, received_at, line
FROM events
WHERE domain_id IN subtree AND seq > :after_seq
ORDER BY seq
LIMIT :limit;

-- name: list_expired_events
-- One chunk of events received before :received_before, in (received_at, seq)
-- order after the previous chunk, so kept events are not scanned again.
SELECT seq, received_at
FROM events
WHERE received_at < :received_before
    AND (received_at, seq) > (:after_received_at, :after_seq)
ORDER BY received_at, seq
LIMIT :limit;

-- name: delete_unqueued_events
-- Deletes the events of :seqs (a JSON array) that no stream still has queued.
DELETE FROM events
WHERE seq IN (SELECT value FROM json_each(:seqs))
    AND NOT EXISTS (
        SELECT 1 FROM deliveries
        WHERE deliveries.event_seq = events.seq AND deliveries.status = 'queued'
    );

-- name: delete_expired_dead_letters
-- Deletes at most :limit dead letters that died before :dead_before.
DELETE FROM dead_letters
WHERE id IN (
    SELECT id FROM dead_letters WHERE dead_at < :dead_before ORDER BY dead_at LIMIT :limit
);

-- name: count_queued
SELECT count(*) FROM deliveries WHERE stream_id = :stream_id AND status = 'queued';


-- Delivery queues, dead letters and delivery statistics ------------------------------

-- name: get_stream_domain
SELECT domain_id FROM streams WHERE id = :id;

-- name: get_seq_range
-- Two subqueries, because SQLite reads min() or max() of the key from the end of the
-- b-tree only when the query has that single aggregate.
SELECT
    coalesce((SELECT min(seq) FROM events), 0) AS first_seq,
    coalesce((SELECT max(seq) FROM events), 0) AS last_seq;

-- name: fetch_queued
-- The primary key and deliveries_stream_status both list a stream's rows in
-- event_seq order, so no sort is needed. The columns are in the order of the fields
-- of QueuedDelivery, which is built from each row as it is.
SELECT
    deliveries.event_seq AS seq, events.guid, events.domain_id, events.type, events.time,
    events.line, deliveries.queued_at, deliveries.attempts, deliveries.last_error
FROM deliveries
JOIN events ON events.seq = deliveries.event_seq
WHERE deliveries.stream_id = :stream_id AND deliveries.status = 'queued'
    AND deliveries.event_seq > :after_seq
ORDER BY deliveries.event_seq
LIMIT :limit;

-- name: delete_delivery
DELETE FROM deliveries WHERE stream_id = :stream_id AND event_seq = :seq;

-- name: delete_deliveries
-- A dispatcher's delivered events in one statement: one primary key seek per seq.
DELETE FROM deliveries
WHERE stream_id = :stream_id AND event_seq IN (SELECT value FROM json_each(:seqs));

-- name: retry_delivery
UPDATE deliveries
SET attempts = attempts + 1, last_error = :error
WHERE stream_id = :stream_id AND event_seq = :seq;

-- name: insert_dead_letter
-- Copies the event from the log and counts the final attempt. Inserts nothing when
-- the delivery is no longer queued.
INSERT INTO dead_letters (
    stream_id, event_seq, guid, domain_id, type, time, received_at, line,
    error, attempts, queued_at, dead_at
)
SELECT
    deliveries.stream_id, events.seq, events.guid, events.domain_id, events.type,
    events.time, events.received_at, events.line,
    :error, deliveries.attempts + 1, deliveries.queued_at, :dead_at
FROM deliveries
JOIN events ON events.seq = deliveries.event_seq
WHERE deliveries.stream_id = :stream_id AND deliveries.event_seq = :seq;

-- name: insert_attempt
INSERT INTO delivery_attempts (
    stream_id, at, outcome, records, endpoint, status, error_code, message, latency_ms
)
VALUES (
    :stream_id, :at, :outcome, :records, :endpoint, :status, :error_code, :message,
    :latency_ms
);

-- name: trim_attempts
-- Deletes the stream's attempts older than its newest :keep ones.
DELETE FROM delivery_attempts
WHERE stream_id = :stream_id
    AND id <= (
        SELECT id FROM delivery_attempts
        WHERE stream_id = :stream_id
        ORDER BY id DESC
        LIMIT 1 OFFSET :keep
    );

-- name: list_attempts
SELECT at, outcome, records, endpoint, status, error_code, message, latency_ms
FROM delivery_attempts
WHERE stream_id = :stream_id
ORDER BY id DESC
LIMIT :limit;

-- name: add_minute_stats
INSERT INTO stream_minute_stats (stream_id, minute, delivered, failed)
VALUES (:stream_id, :minute, :delivered, :failed)
ON CONFLICT (stream_id, minute) DO UPDATE SET
    delivered = delivered + excluded.delivered,
    failed = failed + excluded.failed;

-- name: trim_minute_stats
DELETE FROM stream_minute_stats WHERE stream_id = :stream_id AND minute < :before;

-- name: list_minute_stats
SELECT minute, delivered, failed
FROM stream_minute_stats
WHERE stream_id = :stream_id AND minute >= :since
ORDER BY minute;

-- name: record_stream_status
-- Adds a round's counts to the stream's totals. A NULL :last_error or
-- :last_delivered_at keeps the stored value. The SELECT from streams writes nothing
-- for a stream deleted meanwhile, where a plain INSERT would break the foreign key.
INSERT INTO stream_status (
    stream_id, state, last_error, last_delivered_at, delivered_total, failed_total,
    updated_at
)
SELECT id, :state, :last_error, :last_delivered_at, :delivered, :failed, :updated_at
FROM streams
WHERE id = :stream_id
ON CONFLICT (stream_id) DO UPDATE SET
    state = excluded.state,
    last_error = coalesce(excluded.last_error, last_error),
    last_delivered_at = coalesce(excluded.last_delivered_at, last_delivered_at),
    delivered_total = delivered_total + excluded.delivered_total,
    failed_total = failed_total + excluded.failed_total,
    updated_at = excluded.updated_at;

-- name: set_stream_state
-- A NULL :last_error keeps the stored one. An unknown stream writes nothing.
INSERT INTO stream_status (stream_id, state, last_error, updated_at)
SELECT id, :state, :last_error, :updated_at
FROM streams
WHERE id = :stream_id
ON CONFLICT (stream_id) DO UPDATE SET
    state = excluded.state,
    last_error = coalesce(excluded.last_error, last_error),
    updated_at = excluded.updated_at;

-- name: get_stream_status
-- NOTE: min(queued_at) reads every queued row of the stream, because no index
-- orders the queue by queued_at. Such an index would slow every append.
SELECT
    coalesce(stream_status.state, 'idle') AS state,
    (
        SELECT count(*) FROM deliveries
        WHERE stream_id = :stream_id AND status = 'queued'
    ) AS queue_depth,
    (
        SELECT min(queued_at) FROM deliveries
        WHERE stream_id = :stream_id AND status = 'queued'
    ) AS oldest_queued_at,
    coalesce(stream_status.delivered_total, 0) AS delivered,
    coalesce(stream_status.failed_total, 0) AS failed,
    (SELECT count(*) FROM dead_letters WHERE stream_id = :stream_id) AS dead_letters,
    stream_status.last_error,
    stream_status.last_delivered_at
FROM (SELECT :stream_id AS stream_id) AS wanted
LEFT JOIN stream_status ON stream_status.stream_id = wanted.stream_id;

-- name: list_dead_letters
SELECT
    id, stream_id, event_seq AS seq, guid, domain_id, type, time, line,
    error, attempts, queued_at, dead_at
FROM dead_letters
WHERE stream_id = :stream_id AND id > coalesce(:after, 0)
ORDER BY id
LIMIT :limit;

-- Selections of dead letters: ids (a JSON array), a range of the event's time (an
-- open end when NULL), or all. Every redrive or delete removes the rows it selected,
-- so the next chunk starts again from the first remaining one. A range is taken in
-- (time, id) order, which the index dead_letters_stream_time gives without a sort.

-- name: select_dead_letters_by_ids
SELECT id, guid
FROM dead_letters
WHERE stream_id = :stream_id AND id IN (SELECT value FROM json_each(:ids))
ORDER BY id
LIMIT :limit;

-- name: select_dead_letters_in_range
SELECT id, guid
FROM dead_letters
WHERE stream_id = :stream_id
    AND time >= coalesce(:from_time, '')
    AND (:to_time IS NULL OR time < :to_time)
ORDER BY time, id
LIMIT :limit;

-- name: select_dead_letters_all
SELECT id, guid
FROM dead_letters
WHERE stream_id = :stream_id
ORDER BY id
LIMIT :limit;

-- name: delete_dead_letters_by_ids
DELETE FROM dead_letters
WHERE id IN (
    SELECT id FROM dead_letters
    WHERE stream_id = :stream_id AND id IN (SELECT value FROM json_each(:ids))
    ORDER BY id
    LIMIT :limit
);

-- name: delete_dead_letters_in_range
DELETE FROM dead_letters
WHERE id IN (
    SELECT id FROM dead_letters
    WHERE stream_id = :stream_id
        AND time >= coalesce(:from_time, '')
        AND (:to_time IS NULL OR time < :to_time)
    ORDER BY time, id
    LIMIT :limit
);

-- name: delete_dead_letters_all
DELETE FROM dead_letters
WHERE id IN (
    SELECT id FROM dead_letters WHERE stream_id = :stream_id ORDER BY id LIMIT :limit
);

-- name: delete_dead_letter
DELETE FROM dead_letters WHERE id = :id;

-- name: restore_dead_letter_event
-- Puts the dead letter's copy of its event back into the log under the original seq.
-- Does nothing when that seq or guid is stored already. "WHERE" ends the SELECT, so
-- SQLite does not read "ON CONFLICT" as a join constraint.
INSERT INTO events (seq, guid, domain_id, type, time, received_at, line)
SELECT event_seq, guid, domain_id, type, time, received_at, line
FROM dead_letters
WHERE id = :id
ON CONFLICT DO NOTHING;

-- name: queue_event_by_guid
-- Queues the stored event with :guid. After retention, a producer may have sent the
-- guid again, so the event found can have another seq than the dead letter.
INSERT INTO deliveries (stream_id, event_seq, status, attempts, queued_at, next_attempt_at)
SELECT :stream_id, seq, 'queued', 0, :queued_at, :queued_at
FROM events
WHERE guid = :guid
ON CONFLICT (stream_id, event_seq) DO NOTHING;

-- name: list_replay_candidates
-- The events with :after_seq < seq <= :until_seq of the domain :domain_id and its
-- descendants, with :from_time <= time < :to_time, in log order. The seq window
-- bounds the rows one call reads, whichever index SQLite picks.
WITH RECURSIVE subtree (id) AS (
    SELECT id FROM domains WHERE id = :domain_id
    UNION
    SELECT domains.id FROM domains JOIN subtree ON domains.parent_id = subtree.id
)
SELECT seq, type
FROM events
WHERE seq > :after_seq
    AND seq <= :until_seq
    AND domain_id IN subtree
    AND time >= :from_time
    AND time < :to_time
ORDER BY seq;

-- name: queue_event_by_seq
-- Inserts nothing when the event is already queued for the stream, or when
-- retention deleted it after the replay read it.
INSERT INTO deliveries (stream_id, event_seq, status, attempts, queued_at, next_attempt_at)
SELECT :stream_id, seq, 'queued', 0, :queued_at, :queued_at
FROM events
WHERE seq = :seq
ON CONFLICT (stream_id, event_seq) DO NOTHING;
