-- The destructive-change guard: recent destructive writes (the sliding window) and the
-- destructive work it holds while tripped. The tripped flag itself is the setting "guard".
CREATE TABLE guard_window (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms  INTEGER NOT NULL,
  kind   TEXT    NOT NULL
);
CREATE INDEX guard_window_by_time ON guard_window (at_ms);

CREATE TABLE guard_held (
  entity    TEXT    NOT NULL,
  kind      TEXT    NOT NULL,
  request   TEXT    NOT NULL DEFAULT '{}',
  events    TEXT    NOT NULL DEFAULT '[]',
  held_at_ms INTEGER NOT NULL,
  approved  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (entity, kind)
);
