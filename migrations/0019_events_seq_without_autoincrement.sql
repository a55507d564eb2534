-- Issue 13: `events` without AUTOINCREMENT. SQLite reads and rewrites the table's sqlite_sequence
-- row for every row an AUTOINCREMENT table gets (~4,400 instructions per stored event, callgrind,
-- bench-inbox) and writes that page to the WAL with every group commit. The guarantee it gave
-- stays: a seq is never given twice, even after the newest events were deleted (which tenantsync
-- itself never does). The store gives each new event one past the larger of the highest stored
-- seq and the highest ever deleted (SqliteStore::InsertEventRows reads both once per commit),
-- and a trigger keeps the latter on every delete, in state_counts ('events_seq',
-- 'deleted_max'), seeded here from AUTOINCREMENT's own high-water mark. The table is rebuilt with
-- the same columns, rows, indexes and triggers (0016 and 0018); rebuilding takes about as long
-- as 0016 did (docs/OPERATIONS.md "Upgrade").
CREATE TABLE events_new (
  seq             INTEGER PRIMARY KEY,  -- given by the store: one past the highest ever
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
-- The highest seq ever given, as AUTOINCREMENT kept it: above every stored one when the newest
-- events were deleted.
INSERT INTO state_counts (tbl, state, n)
  SELECT 'events_seq', 'deleted_max', seq FROM sqlite_sequence WHERE name = 'events'
  ON CONFLICT (tbl, state) DO UPDATE SET n = MAX(n, excluded.n);
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
CREATE TRIGGER events_seq_kept AFTER DELETE ON events BEGIN
  INSERT INTO state_counts (tbl, state, n) VALUES ('events_seq', 'deleted_max', OLD.seq)
    ON CONFLICT (tbl, state) DO UPDATE SET n = MAX(n, excluded.n);
END;
