-- dirty.priority gains a level between ordinary work and access removals (issue 17): 1 is now a
-- users-imports job (many creates in one request, ahead of the hires still waiting to be looked
-- at), 2 an access removal (a leaver's block, revocation, membership removal; ahead of all).
-- Removals marked by an older release move up with it.
UPDATE dirty SET priority = 2 WHERE priority = 1;
