-- Issue 16: changes submitted by people through the admin API (POST /v1/events) are events of
-- source "console"; submitted_by is the name of the admin token that submitted one (NULL for
-- every event that came from a webhook or a declared apply).
ALTER TABLE events ADD COLUMN submitted_by TEXT;
-- The console filters events by source (e.g. source = 'console') page by page in seq order;
-- without this the filter walks every event.
CREATE INDEX events_by_source ON events (source, seq);
