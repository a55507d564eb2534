-- Users import jobs (POST /api/v2/jobs/users-imports): one row per import file, written BEFORE the
-- job is sent, so a crash between sending and recording is recovered by looking the users up by
-- their deterministic ids instead of sending the file again (docs/AUTH0-CLIENT.md, "Users
-- import jobs"). state: prepared (row written; the POST may or may not have reached Auth0),
-- sent (Auth0 answered with job_id), completed, failed (Auth0's job failed), abandoned (never
-- sent, or recovered after a crash).
CREATE TABLE import_jobs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  connection    TEXT    NOT NULL,
  state         TEXT    NOT NULL,
  job_id        TEXT,
  polls         INTEGER NOT NULL DEFAULT 0,
  summary       TEXT    NOT NULL DEFAULT '{}',
  error         TEXT    NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE INDEX import_jobs_open ON import_jobs (state, connection);

-- The users of each import file with the id chosen for them (the import's user_id; Auth0's id is
-- "auth0|" + it) and the import record exactly as sent.
CREATE TABLE import_job_users (
  job              INTEGER NOT NULL REFERENCES import_jobs (id),
  user_external_id TEXT    NOT NULL,
  import_user_id   TEXT    NOT NULL,
  record           TEXT    NOT NULL,
  PRIMARY KEY (job, user_external_id)
);
CREATE INDEX import_job_users_by_user ON import_job_users (user_external_id);
