-- How many users tenantsync manages (user entities with an Auth0 id), kept by triggers like the
-- dirty-queue count of 0012: the guard's limit is a fraction of it, read by every GET /v1/status
-- and every destructive check, and counting it walked one index entry per managed user (75 % of
-- a status call, ~8 ms, at 100,000 users; docs/BENCHMARKS.md, session 32). An upsert's update
-- fires the update trigger; its WHEN keeps the trigger's body off every write that leaves the
-- entity's kind and Auth0 id as they were.
INSERT INTO state_counts (tbl, state, n)
  SELECT 'entities', 'managed_user', COUNT(*) FROM entities
  WHERE kind = 'user' AND auth0_id IS NOT NULL;
CREATE TRIGGER entities_managed_insert AFTER INSERT ON entities
  WHEN NEW.kind = 'user' AND NEW.auth0_id IS NOT NULL BEGIN
  UPDATE state_counts SET n = n + 1 WHERE tbl = 'entities' AND state = 'managed_user';
END;
CREATE TRIGGER entities_managed_update AFTER UPDATE OF kind, auth0_id ON entities
  WHEN (OLD.kind = 'user' AND OLD.auth0_id IS NOT NULL) IS NOT
       (NEW.kind = 'user' AND NEW.auth0_id IS NOT NULL) BEGIN
  UPDATE state_counts
    SET n = n + (CASE WHEN NEW.kind = 'user' AND NEW.auth0_id IS NOT NULL THEN 1 ELSE -1 END)
    WHERE tbl = 'entities' AND state = 'managed_user';
END;
CREATE TRIGGER entities_managed_delete AFTER DELETE ON entities
  WHEN OLD.kind = 'user' AND OLD.auth0_id IS NOT NULL BEGIN
  UPDATE state_counts SET n = n - 1 WHERE tbl = 'entities' AND state = 'managed_user';
END;
