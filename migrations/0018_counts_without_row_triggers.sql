-- Issue 13: a row trigger costs its program's invocation for every row its statement writes,
-- WHEN clause or not: SQLite evaluates the WHEN inside the trigger's sub-program. Two such
-- triggers ran for every event the writer folds and almost never changed a count:
-- events_count_update on marking the event applied (its WHEN skips pending -> applied, which
-- SetEventsApplied counts itself since 0015: ~3,900 instructions per event for nothing) and
-- entities_managed_insert on storing a new user's desired state (no Auth0 id yet: ~4,700).
-- Every change of an event's state and every insert into entities goes through the store
-- (StateTxn::SetEventState, SetEventsApplied, PutEntity, PutDesired), which now counts what it
-- changes in the same transaction. Deleting events and entities, and changing an entity's kind or
-- Auth0 id, stay counted by their triggers (events_count_delete, entities_managed_update,
-- entities_managed_delete): the writer's fold never does those.
DROP TRIGGER events_count_update;
DROP TRIGGER entities_managed_insert;
