-- The writer split into planners and one step executor (issue 12).
--
-- commands: 'skipped' — an email that was not sent because, when it came to run, its user had
-- left, was blocked or deleted (decided then, not when it was queued).
-- mutations: 'superseded' — a failed attempt that a later pass of the same entity made moot (the
-- entity converged or was re-planned): it no longer counts as failed work.
-- dirty: `priority` (1 = access removal: a leaver's block, revocation, membership removal; runs
-- ahead of other work).
-- events: `note` — what happened to an applied event later (e.g. its destructive effect rejected
-- at the guard, by whom and when).

CREATE TABLE commands_new (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  kind           TEXT    NOT NULL,
  user_external_id TEXT  NOT NULL,
  event          TEXT    NOT NULL,
  state          TEXT    NOT NULL CHECK (state IN ('pending', 'in_flight', 'done', 'dead', 'skipped')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  last_error     TEXT,
  created_at_ms  INTEGER NOT NULL,
  updated_at_ms  INTEGER NOT NULL,
  UNIQUE (kind, event)
);
INSERT INTO commands_new SELECT id, kind, user_external_id, event, state, attempts, last_error,
  created_at_ms, updated_at_ms FROM commands;
DROP TABLE commands;
ALTER TABLE commands_new RENAME TO commands;

CREATE TABLE mutations_new (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  entity         TEXT    NOT NULL,
  kind           TEXT    NOT NULL,
  request        TEXT    NOT NULL DEFAULT '{}',
  events         TEXT    NOT NULL DEFAULT '[]',
  state          TEXT    NOT NULL CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'dead', 'discarded', 'superseded')),
  destructive    INTEGER NOT NULL DEFAULT 0,
  attempts       INTEGER NOT NULL DEFAULT 0,
  last_error     TEXT,
  created_at_ms  INTEGER NOT NULL,
  updated_at_ms  INTEGER NOT NULL,
  first_received_at_ms INTEGER
);
INSERT INTO mutations_new SELECT id, entity, kind, request, events, state, destructive, attempts,
  last_error, created_at_ms, updated_at_ms, first_received_at_ms FROM mutations;
DROP TABLE mutations;
ALTER TABLE mutations_new RENAME TO mutations;
CREATE INDEX mutations_by_state ON mutations (state, id);
CREATE INDEX mutations_by_entity ON mutations (entity, id);

ALTER TABLE dirty ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
CREATE INDEX dirty_due ON dirty (priority DESC, not_before_ms);

ALTER TABLE events ADD COLUMN note TEXT;
