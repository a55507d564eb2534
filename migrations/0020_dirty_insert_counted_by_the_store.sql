-- Issue 13: dirty_awaiting_insert (0012) ran its program for every new dirty mark — one per
-- entity each batch of events the writer folds — to count the marks made at the awaiting-import
-- priority (-1), which the fold never makes: ~2,700 instructions per new mark (the sqlite3 shell
-- under callgrind, 20,000 marks: 26.1k instructions per mark with the trigger, 23.4k without).
-- New marks are inserted by StateTxn::MarkDirty, which now counts one made at that priority
-- itself (in the same transaction), and by RecoverInterrupted, which inserts at priority 0.
-- Changing a mark's priority and deleting a mark stay counted by dirty_awaiting_update and
-- dirty_awaiting_delete.
DROP TRIGGER dirty_awaiting_insert;
