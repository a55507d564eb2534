-- Vendor connectors (issue 18, docs/CONNECTORS.md "Status"): every notification of an HR/CRM
-- vendor delivery (bamboohr, hibob, personio, hubspot) that passed the vendor's signature check,
-- stored before the delivery is answered 2xx. (source, event_id) is unique forever, like the
-- inbox: a redelivered notification is a duplicate. The connector stage (daemon/ingress/
-- vendor_stage.cpp) fetches the record a dataless notification names and, in one transaction,
-- writes it into `body` and inserts the mapped SPEC §5 events into `events` (ids: event_id +
-- suffix), so nothing acknowledged is lost and a replay maps the stored record without fetching.
CREATE TABLE vendor_notifications (
  source          TEXT    NOT NULL,
  event_id        TEXT    NOT NULL,
  state           TEXT    NOT NULL CHECK (state IN ('pending', 'mapped', 'failed')),
  body            TEXT    NOT NULL,   -- StoredVendorEvent: {"notification", "record", "fetched_at"}
  attempts        INTEGER NOT NULL DEFAULT 0,  -- fetches that failed for now (rate limit, 5xx)
  next_at_ms      INTEGER NOT NULL,   -- pending: not tried again before this time
  error           TEXT,               -- failed: why; pending: the last temporary failure
  events          INTEGER NOT NULL DEFAULT 0,  -- mapped: how many inbox events it became
  received_at_ms  INTEGER NOT NULL,
  updated_at_ms   INTEGER NOT NULL,
  PRIMARY KEY (source, event_id)
);
CREATE INDEX vendor_notifications_due ON vendor_notifications (state, next_at_ms);
