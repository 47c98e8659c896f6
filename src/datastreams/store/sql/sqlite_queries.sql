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

-- name: count_queued
SELECT count(*) FROM deliveries WHERE stream_id = :stream_id AND status = 'queued';
