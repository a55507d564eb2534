-- The durable inbox: every signed delivery that passed the signature check.
-- (source, event_id) is unique forever: dedup is permanent, not a time-limited cache.
CREATE TABLE events (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  source          TEXT    NOT NULL,
  event_id        TEXT    NOT NULL,
  type            TEXT,                 -- NULL when the type itself was not understood
  occurred_at_ms  INTEGER,              -- envelope "timestamp": when it happened at the source
  effective_at_ms INTEGER,              -- data.effective_at, when the change is due
  received_at_ms  INTEGER NOT NULL,
  state           TEXT    NOT NULL CHECK (state IN ('pending', 'applied', 'rejected', 'failed')),
  error           TEXT,                 -- why it was rejected or failed
  body            TEXT    NOT NULL,     -- the raw body, exactly as signed
  updated_at_ms   INTEGER NOT NULL,
  UNIQUE (source, event_id)
);
CREATE INDEX events_by_state ON events (state, seq);
