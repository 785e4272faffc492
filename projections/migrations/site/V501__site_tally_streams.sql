-- Each tally's lift chits now go into the tally's own stream (one aggregate, one stream), so loading a tally no
-- longer searches the shared `lifts` stream's payloads, and the log's `events` table loses the site index that
-- did that. site.tallies keeps each tally's whole state, including its stream's version: the lift run decides
-- from it and appends with that exact version, so a stale row costs a refused append, never a wrong chain.
DROP INDEX IF EXISTS events_site_lift_chits;

-- The new columns are filled from the log: empty the site views and let them rebuild (the runner starts from
-- checkpoint zero).
DELETE FROM site.site;
DELETE FROM site.users;
DELETE FROM site.device_keys;
DELETE FROM site.tallies;
DELETE FROM site.chits;
DELETE FROM site.lifts;
DELETE FROM site.open_tallies;
DELETE FROM projection_checkpoints WHERE name = 'site';

ALTER TABLE site.tallies ADD COLUMN stream_version bigint NOT NULL DEFAULT 0;
ALTER TABLE site.tallies ADD COLUMN proposed_by text CHECK (proposed_by IN ('stock', 'foil'));
ALTER TABLE site.tallies ADD COLUMN stock_signature text;
ALTER TABLE site.tallies ADD COLUMN foil_signature text;
ALTER TABLE site.tallies ADD COLUMN rebased boolean NOT NULL DEFAULT false;
