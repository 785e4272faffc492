-- The lift finder's graph as its own narrow view, so that loading it reads a few bytes per open tally instead of
-- whole tally rows (with their jsonb bodies): `lift run` and the finder read it with one binary COPY.

-- Every user and every tally gets a dense integer index in log order (registration, draft): the finder's graph
-- is built from them, so loading it moves only integers. Deterministic, so a rebuild gives the same indexes.
-- The site projection has to fill them for existing rows: empty the site views and let them rebuild from the
-- log (the runner starts from checkpoint zero).
DELETE FROM site.site;
DELETE FROM site.users;
DELETE FROM site.device_keys;
DELETE FROM site.tallies;
DELETE FROM site.chits;
DELETE FROM site.lifts;
DELETE FROM projection_checkpoints WHERE name = 'site';

ALTER TABLE site.users ADD COLUMN ix integer NOT NULL;
ALTER TABLE site.users ADD CONSTRAINT users_ix_unique UNIQUE (ix);
ALTER TABLE site.tallies ADD COLUMN ix integer NOT NULL;
ALTER TABLE site.tallies ADD CONSTRAINT tallies_ix_unique UNIQUE (ix);

-- One row per open tally (by its index): its parties' indexes and how far each side may pay in a lift (lift capacity: the
-- stock pays down to the lower bound, the foil up to the upper bound). Kept by the site projection in the same
-- transaction as site.tallies, so it can never disagree with it.
CREATE TABLE site.open_tallies (
    tally_ix          integer PRIMARY KEY,
    stock_ix          integer NOT NULL,
    foil_ix           integer NOT NULL,
    stock_pays_milli  bigint  NOT NULL,
    foil_pays_milli   bigint  NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON site.open_tallies TO notch_app;
GRANT SELECT ON site.open_tallies TO notch_report;
