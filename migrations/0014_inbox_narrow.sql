-- Issue 13: storing an event writes fewer pages. Every index on `events` is written by every
-- event the group committer stores and again when the writer settles it; senders' event ids are
-- UUIDs, so an index keyed by the id puts each event on a random leaf page of its own, written
-- whole to the WAL at each commit (docs/BENCHMARKS.md, "The inbox's pages per event").
--
-- Lookups by event id alone (GET /v1/events/{id} without ?source) walk the dedup key
-- (source, event_id) once per distinct source (a few) instead of keeping a second random index.
DROP INDEX events_by_event_id;

-- events_by_state held every event ever received, moved from ('pending', seq) to ('applied', seq)
-- when settled. Only the states someone looks for are indexed now, each in a partial index that
-- holds just its rows: pending (the writer's queue), failed and rejected (operators' lists).
-- Listing applied events pages through the inbox in seq order.
DROP INDEX events_by_state;
CREATE INDEX events_pending ON events (seq) WHERE state = 'pending';
CREATE INDEX events_failed ON events (seq) WHERE state = 'failed';
CREATE INDEX events_rejected ON events (seq) WHERE state = 'rejected';

-- Only applied and rejected events are ever compacted: pending ones no longer enter this index
-- when stored (and leave it when settled).
DROP INDEX events_compactable;
CREATE INDEX events_compactable ON events (state, updated_at_ms)
  WHERE compacted_at_ms IS NULL AND state IN ('applied', 'rejected');

-- The per-state count of stored events: events enter the inbox only through the store's one
-- insert path (SqliteStore::InsertEventRows), which adds what it inserted to state_counts once
-- per commit and state, in the same transaction; a trigger did it once per row (~4 µs of the
-- group committer's CPU per event). State changes and deletes stay counted by triggers, whoever
-- makes them.
DROP TRIGGER events_count_insert;
