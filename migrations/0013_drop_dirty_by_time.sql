-- 0012's dirty_by_time index is dropped: every dirty mark written, moved or cleared (each event
-- the writer folds, each entity it finishes) paid for it, and nothing needs it. Status counts the
-- queue with COUNT(*), the awaiting-import count and short dirty_due ranges, and lists the next
-- scheduled marks from the dirty_due ranges of the ordinary priorities.
DROP INDEX IF EXISTS dirty_by_time;
