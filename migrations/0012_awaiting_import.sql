-- Users waiting for a users-import job (issue 17) keep their dirty mark at priority -1 with a
-- long backstop revisit: the imports entity owns them and marks them when their job ends or the
-- import path is off, so a backfill of 100,000 people does not revisit each one every few
-- seconds. Status lists scheduled work by due time without walking those marks: this index lets
-- "the next few scheduled" stop after a few rows.
CREATE INDEX dirty_by_time ON dirty (not_before_ms, attempts);
