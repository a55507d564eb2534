-- Desired state, what tenantsync last knew of Auth0, the work queue and the mutation log.

-- One row per organization or user named by a source's external_id. `desired` holds every field
-- with the timestamp and event that last set it (per-field last-writer-wins); `known` is the
-- Auth0 state as last read or written; auth0_id is the mapping external_id -> org_/auth0|.
CREATE TABLE entities (
  kind           TEXT    NOT NULL CHECK (kind IN ('org', 'user')),
  external_id    TEXT    NOT NULL,
  desired        TEXT    NOT NULL DEFAULT '{}',
  known          TEXT    NOT NULL DEFAULT '{}',
  auth0_id       TEXT,
  updated_at_ms  INTEGER NOT NULL,
  PRIMARY KEY (kind, external_id)
);
CREATE UNIQUE INDEX entities_by_auth0_id ON entities (kind, auth0_id) WHERE auth0_id IS NOT NULL;

-- Objects tenantsync created or adopted: it never touches anything else.
CREATE TABLE registry (
  kind        TEXT    NOT NULL,
  auth0_id    TEXT    NOT NULL,
  external_id TEXT    NOT NULL,
  how         TEXT    NOT NULL CHECK (how IN ('created', 'adopted')),
  at_ms       INTEGER NOT NULL,
  PRIMARY KEY (kind, auth0_id)
);

-- Desired memberships (a user's `organizations` is the complete set) and the ones known to be
-- in Auth0, so a plan per organization is a set difference.
CREATE TABLE memberships (
  org_external_id  TEXT NOT NULL,
  user_external_id TEXT NOT NULL,
  roles            TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (org_external_id, user_external_id)
);
CREATE INDEX memberships_by_user ON memberships (user_external_id);
CREATE TABLE known_memberships (
  org_external_id  TEXT NOT NULL,
  user_external_id TEXT NOT NULL,
  roles            TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (org_external_id, user_external_id)
);

-- Work queue of the reconciler: an entity key ("org:acme", "user:e1", "members:acme",
-- "callbacks", "connection:NAME", "command:ID"). `generation` grows on every mark so a mark made
-- while the entity is being worked on is not lost.
CREATE TABLE dirty (
  entity         TEXT    PRIMARY KEY,
  generation     INTEGER NOT NULL DEFAULT 1,
  not_before_ms  INTEGER NOT NULL DEFAULT 0,
  attempts       INTEGER NOT NULL DEFAULT 0
);

-- One-shot commands (password reset email, verification email): executed once per event.
CREATE TABLE commands (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  kind           TEXT    NOT NULL,
  user_external_id TEXT  NOT NULL,
  event          TEXT    NOT NULL,            -- "source/event_id" that asked for it
  state          TEXT    NOT NULL CHECK (state IN ('pending', 'in_flight', 'done', 'dead')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  last_error     TEXT,
  created_at_ms  INTEGER NOT NULL,
  updated_at_ms  INTEGER NOT NULL,
  UNIQUE (kind, event)
);

-- Every Auth0 write, committed before and after its request.
CREATE TABLE mutations (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  entity         TEXT    NOT NULL,
  kind           TEXT    NOT NULL,            -- create_user, patch_user, add_members, ...
  request        TEXT    NOT NULL DEFAULT '{}',  -- what is sent (never a password)
  events         TEXT    NOT NULL DEFAULT '[]',  -- the events behind it
  state          TEXT    NOT NULL CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'dead', 'discarded')),
  destructive    INTEGER NOT NULL DEFAULT 0,
  attempts       INTEGER NOT NULL DEFAULT 0,
  last_error     TEXT,
  created_at_ms  INTEGER NOT NULL,
  updated_at_ms  INTEGER NOT NULL,
  first_received_at_ms INTEGER                -- earliest event receipt behind it (sync lag)
);
CREATE INDEX mutations_by_state ON mutations (state, id);
CREATE INDEX mutations_by_entity ON mutations (entity, id);

-- Small key/value state (paused flag, guard state, last successful write).
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
