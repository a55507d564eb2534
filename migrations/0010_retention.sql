-- Retention (issue 17, docs/OPERATIONS.md "Retention"): old history is compacted in bounded
-- batches by the daemon, never the rows operators must act on.
--
-- events: an applied or rejected event older than [storage] event_body_retention_days loses its
-- body (set to '') and gets compacted_at_ms; its row stays, so (source, event_id) is still unique
-- forever and a redelivery is still answered as a duplicate. Pending and failed events are never
-- compacted.
ALTER TABLE events ADD COLUMN compacted_at_ms INTEGER;
-- The compaction pick: only rows not compacted yet are in this index, so each pass reads the
-- candidates, not every event it compacted before.
CREATE INDEX events_compactable ON events (state, updated_at_ms) WHERE compacted_at_ms IS NULL;

-- mutations: done, superseded and discarded rows older than [storage] mutation_retention_days
-- are deleted (failed and dead ones stay until an operator retries or discards them).
CREATE INDEX mutations_by_state_time ON mutations (state, updated_at_ms);

-- commands: done and skipped one-shot commands older than the same retention are deleted.
CREATE INDEX commands_by_state_time ON commands (state, updated_at_ms);
-- The commands of one user (the user view lists them; PendingCommands reads them per user).
CREATE INDEX commands_by_user ON commands (user_external_id, id);

-- vendor_notifications: a mapped notification older than event_body_retention_days loses its
-- body (the fetched HR/CRM record); the row stays as its dedup key. Only rows with a body are in
-- this index.
CREATE INDEX vendor_notifications_compactable ON vendor_notifications (state, updated_at_ms)
  WHERE body <> '';

-- Entities waiting for something (known.waiting, GET /v1/status "waiting"): a partial index over
-- the same expression the status queries use, so counting them reads only the waiting ones
-- instead of parsing the JSON of every entity.
CREATE INDEX entities_waiting ON entities (updated_at_ms, kind, external_id)
  WHERE (CASE WHEN json_valid(known) AND json_type(known, '$.waiting') = 'text' THEN
         json_extract(known, '$.waiting') END) IS NOT NULL;

-- Forgetting a deleted user's known memberships (StateTxn::ForgetKnownMemberships) looks them up
-- by user; the primary key starts with the organization, so without this it walks every one.
CREATE INDEX known_memberships_by_user ON known_memberships (user_external_id);

-- GET /v1/events/{id} without ?source looks an event up by its id alone; (source, event_id)
-- cannot serve that, so without this the lookup walks the whole inbox.
CREATE INDEX events_by_event_id ON events (event_id);

-- Counts per state of the inbox and the mutation log, kept by triggers, so GET /v1/status and
-- the metrics read a few rows instead of walking an index of every event ever received (the
-- inbox keeps every row for dedup, so that walk would grow for ever). A migration that rebuilds
-- `events` or `mutations` must recreate these triggers.
CREATE TABLE state_counts (
  tbl    TEXT    NOT NULL,   -- 'events' | 'mutations'
  state  TEXT    NOT NULL,
  n      INTEGER NOT NULL,
  PRIMARY KEY (tbl, state)
);
INSERT INTO state_counts SELECT 'events', state, COUNT(*) FROM events GROUP BY state;
INSERT INTO state_counts SELECT 'mutations', state, COUNT(*) FROM mutations GROUP BY state;

CREATE TRIGGER events_count_insert AFTER INSERT ON events BEGIN
  INSERT INTO state_counts (tbl, state, n) VALUES ('events', NEW.state, 1)
    ON CONFLICT (tbl, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER events_count_update AFTER UPDATE OF state ON events
  WHEN OLD.state IS NOT NEW.state BEGIN
  UPDATE state_counts SET n = n - 1 WHERE tbl = 'events' AND state = OLD.state;
  INSERT INTO state_counts (tbl, state, n) VALUES ('events', NEW.state, 1)
    ON CONFLICT (tbl, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER events_count_delete AFTER DELETE ON events BEGIN
  UPDATE state_counts SET n = n - 1 WHERE tbl = 'events' AND state = OLD.state;
END;

CREATE TRIGGER mutations_count_insert AFTER INSERT ON mutations BEGIN
  INSERT INTO state_counts (tbl, state, n) VALUES ('mutations', NEW.state, 1)
    ON CONFLICT (tbl, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER mutations_count_update AFTER UPDATE OF state ON mutations
  WHEN OLD.state IS NOT NEW.state BEGIN
  UPDATE state_counts SET n = n - 1 WHERE tbl = 'mutations' AND state = OLD.state;
  INSERT INTO state_counts (tbl, state, n) VALUES ('mutations', NEW.state, 1)
    ON CONFLICT (tbl, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER mutations_count_delete AFTER DELETE ON mutations BEGIN
  UPDATE state_counts SET n = n - 1 WHERE tbl = 'mutations' AND state = OLD.state;
END;
