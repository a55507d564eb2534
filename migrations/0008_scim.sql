-- SCIM 2.0 service provider (issue 18, docs/SCIM.md): the resources SCIM clients (Okta, Entra,
-- ...) created, as they are answered, with the id tenantsync assigned and the entity external id
-- their events name. Written in the same transaction as the events of the request that changed
-- them, so a GET right after a write shows it and nothing answered is missing from the inbox.
-- A deleted resource stays as a tombstone (deleted = 1): its id is never reused and its entity
-- can come back (user.returned) when the client creates it again with the same externalId.
CREATE TABLE scim_resources (
  source         TEXT    NOT NULL,
  kind           TEXT    NOT NULL,             -- 'User' | 'Group'
  id             TEXT    NOT NULL,             -- the SCIM id tenantsync assigned
  entity_id      TEXT    NOT NULL,             -- the external_id of the user / organization
  external_id    TEXT,                         -- the client's externalId, as last sent
  name_key       TEXT    NOT NULL,             -- lower(userName) / organization name
  resource       TEXT    NOT NULL,             -- the normalised resource (JSON, without meta)
  version        INTEGER NOT NULL,             -- meta.version W/"n"; grows with every change
  created_ms     INTEGER NOT NULL,
  modified_ms    INTEGER NOT NULL,
  last_event_ms  INTEGER NOT NULL,             -- timestamp of the entity's latest event
  deleted        INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (source, kind, id)
);
CREATE UNIQUE INDEX scim_resources_name ON scim_resources (source, kind, name_key)
  WHERE deleted = 0;
CREATE UNIQUE INDEX scim_resources_external ON scim_resources (source, kind, external_id)
  WHERE deleted = 0 AND external_id IS NOT NULL;
CREATE INDEX scim_resources_entity ON scim_resources (source, kind, entity_id);

-- Group members by SCIM id (the groups of a user without reading every group).
CREATE TABLE scim_members (
  source    TEXT NOT NULL,
  group_id  TEXT NOT NULL,
  user_id   TEXT NOT NULL,
  PRIMARY KEY (source, group_id, user_id)
);
CREATE INDEX scim_members_user ON scim_members (source, user_id);
