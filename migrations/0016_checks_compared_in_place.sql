-- Issue 13: a CHECK that lists more than two values, `state IN ('a', 'b', 'c')`, is coded by
-- SQLite 3.40 as an ephemeral table built again for every row written (OpenEphemeral: a pager
-- opened, zeroed and closed, one insert per value), on every insert and every change of state.
-- The same sets written as ORs are compared in place: the group committer's instructions per
-- stored event fell from 88.9k to 55.5k, bench-inbox's insert from ~22.5 to ~20.2 us/event
-- (docs/BENCHMARKS.md, session 31). A CHECK cannot be altered, so each table with such a check is
-- rebuilt with the same columns, rows, indexes, triggers and AUTOINCREMENT high-water mark
-- (sqlite_sequence: a copy alone would lower it to the largest id left after retention's
-- deletes and hand a deleted id to the next row). No trigger or view of another table names
-- these tables, and no foreign key refers to them.

CREATE TABLE events_new (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  source          TEXT    NOT NULL,
  event_id        TEXT    NOT NULL,
  type            TEXT,                 -- NULL when the type itself was not understood
  occurred_at_ms  INTEGER,              -- envelope "timestamp": when it happened at the source
  effective_at_ms INTEGER,              -- data.effective_at, when the change is due
  received_at_ms  INTEGER NOT NULL,
  state           TEXT    NOT NULL CHECK (state = 'pending' OR state = 'applied' OR
                                          state = 'rejected' OR state = 'failed'),
  error           TEXT,                 -- why it was rejected or failed
  body            TEXT    NOT NULL,     -- the raw body, exactly as signed
  updated_at_ms   INTEGER NOT NULL,
  note            TEXT,
  submitted_by    TEXT,
  compacted_at_ms INTEGER,
  UNIQUE (source, event_id)
);
INSERT INTO events_new (seq, source, event_id, type, occurred_at_ms, effective_at_ms,
  received_at_ms, state, error, body, updated_at_ms, note, submitted_by, compacted_at_ms)
  SELECT seq, source, event_id, type, occurred_at_ms, effective_at_ms, received_at_ms, state,
  error, body, updated_at_ms, note, submitted_by, compacted_at_ms FROM events;
DELETE FROM sqlite_sequence WHERE name = 'events_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'events_new', seq FROM sqlite_sequence
  WHERE name = 'events';
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_by_source ON events (source, seq);
CREATE INDEX events_pending ON events (seq) WHERE state = 'pending';
CREATE INDEX events_failed ON events (seq) WHERE state = 'failed';
CREATE INDEX events_rejected ON events (seq) WHERE state = 'rejected';
CREATE INDEX events_compactable ON events (state, updated_at_ms)
  WHERE compacted_at_ms IS NULL AND state IN ('applied', 'rejected');
CREATE TRIGGER events_count_delete AFTER DELETE ON events BEGIN
  UPDATE state_counts SET n = n - 1 WHERE tbl = 'events' AND state = OLD.state;
END;
CREATE TRIGGER events_count_update AFTER UPDATE OF state ON events
  WHEN OLD.state IS NOT NEW.state AND NOT (OLD.state = 'pending' AND NEW.state = 'applied') BEGIN
  UPDATE state_counts SET n = n - 1 WHERE tbl = 'events' AND state = OLD.state;
  INSERT INTO state_counts (tbl, state, n) VALUES ('events', NEW.state, 1)
    ON CONFLICT (tbl, state) DO UPDATE SET n = n + 1;
END;

CREATE TABLE mutations_new (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  entity         TEXT    NOT NULL,
  kind           TEXT    NOT NULL,
  request        TEXT    NOT NULL DEFAULT '{}',
  events         TEXT    NOT NULL DEFAULT '[]',
  state          TEXT    NOT NULL CHECK (state = 'pending' OR state = 'in_flight' OR
                                         state = 'done' OR state = 'failed' OR state = 'dead' OR
                                         state = 'discarded' OR state = 'superseded'),
  destructive    INTEGER NOT NULL DEFAULT 0,
  attempts       INTEGER NOT NULL DEFAULT 0,
  last_error     TEXT,
  created_at_ms  INTEGER NOT NULL,
  updated_at_ms  INTEGER NOT NULL,
  first_received_at_ms INTEGER
);
INSERT INTO mutations_new (id, entity, kind, request, events, state, destructive, attempts,
  last_error, created_at_ms, updated_at_ms, first_received_at_ms)
  SELECT id, entity, kind, request, events, state, destructive, attempts, last_error,
  created_at_ms, updated_at_ms, first_received_at_ms FROM mutations;
DELETE FROM sqlite_sequence WHERE name = 'mutations_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'mutations_new', seq FROM sqlite_sequence
  WHERE name = 'mutations';
DROP TABLE mutations;
ALTER TABLE mutations_new RENAME TO mutations;
CREATE INDEX mutations_by_state ON mutations (state, id);
CREATE INDEX mutations_by_entity ON mutations (entity, id);
CREATE INDEX mutations_by_state_time ON mutations (state, updated_at_ms);
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

CREATE TABLE commands_new (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  kind           TEXT    NOT NULL,
  user_external_id TEXT  NOT NULL,
  event          TEXT    NOT NULL,
  state          TEXT    NOT NULL CHECK (state = 'pending' OR state = 'in_flight' OR
                                         state = 'done' OR state = 'dead' OR state = 'skipped'),
  attempts       INTEGER NOT NULL DEFAULT 0,
  last_error     TEXT,
  created_at_ms  INTEGER NOT NULL,
  updated_at_ms  INTEGER NOT NULL,
  UNIQUE (kind, event)
);
INSERT INTO commands_new (id, kind, user_external_id, event, state, attempts, last_error,
  created_at_ms, updated_at_ms)
  SELECT id, kind, user_external_id, event, state, attempts, last_error, created_at_ms,
  updated_at_ms FROM commands;
DELETE FROM sqlite_sequence WHERE name = 'commands_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'commands_new', seq FROM sqlite_sequence
  WHERE name = 'commands';
DROP TABLE commands;
ALTER TABLE commands_new RENAME TO commands;
CREATE INDEX commands_by_state_time ON commands (state, updated_at_ms);
CREATE INDEX commands_by_user ON commands (user_external_id, id);

CREATE TABLE vendor_notifications_new (
  source          TEXT    NOT NULL,
  event_id        TEXT    NOT NULL,
  state           TEXT    NOT NULL CHECK (state = 'pending' OR state = 'mapped' OR
                                          state = 'failed'),
  body            TEXT    NOT NULL,   -- StoredVendorEvent: {"notification", "record", "fetched_at"}
  attempts        INTEGER NOT NULL DEFAULT 0,  -- fetches that failed for now (rate limit, 5xx)
  next_at_ms      INTEGER NOT NULL,   -- pending: not tried again before this time
  error           TEXT,               -- failed: why; pending: the last temporary failure
  events          INTEGER NOT NULL DEFAULT 0,  -- mapped: how many inbox events it became
  received_at_ms  INTEGER NOT NULL,
  updated_at_ms   INTEGER NOT NULL,
  PRIMARY KEY (source, event_id)
);
INSERT INTO vendor_notifications_new (source, event_id, state, body, attempts, next_at_ms, error,
  events, received_at_ms, updated_at_ms)
  SELECT source, event_id, state, body, attempts, next_at_ms, error, events, received_at_ms,
  updated_at_ms FROM vendor_notifications;
DROP TABLE vendor_notifications;
ALTER TABLE vendor_notifications_new RENAME TO vendor_notifications;
CREATE INDEX vendor_notifications_due ON vendor_notifications (state, next_at_ms);
CREATE INDEX vendor_notifications_compactable ON vendor_notifications (state, updated_at_ms)
  WHERE body <> '';
