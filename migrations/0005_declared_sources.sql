-- Declared sources (issue 15, docs/DECLARED.md): per source with scheme = "declared", the state
-- its last `tenantsync apply` declared (the JSON of the file format, plus "left" for users a
-- prune made leave) and a revision that grows by one with every apply. An apply is stored only
-- if the revision is still the one its plan was computed from (optimistic concurrency), in the
-- same transaction as the events it puts into the inbox.
CREATE TABLE declared_sources (
  source         TEXT    PRIMARY KEY,
  revision       INTEGER NOT NULL,
  state          TEXT    NOT NULL,
  applied_at_ms  INTEGER NOT NULL,
  events         INTEGER NOT NULL DEFAULT 0   -- events the last apply stored
);
