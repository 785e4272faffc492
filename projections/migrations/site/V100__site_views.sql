-- The site ledger's views (built by projections/src/site/ from the log) and the HTTP adapter's replay guard.
CREATE SCHEMA site;
GRANT USAGE ON SCHEMA site TO notch_app, notch_report;

CREATE TABLE site.site (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    name        text        NOT NULL,
    host        text        NOT NULL,
    port        integer     NOT NULL,
    site_key    text        NOT NULL,
    locked      boolean     NOT NULL DEFAULT false,
    config      jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE site.users (
    cid         text        PRIMARY KEY,
    name        text        NOT NULL,
    contact     jsonb       NOT NULL,
    status      text        NOT NULL CHECK (status IN ('active', 'locked', 'closed')),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE site.device_keys (
    public_key     text        PRIMARY KEY,
    cid            text        NOT NULL,
    registered_at  timestamptz NOT NULL
);
CREATE INDEX device_keys_by_cid ON site.device_keys (cid);

CREATE TABLE site.tallies (
    tally_id            uuid        PRIMARY KEY,
    status              text        NOT NULL,
    version             integer     NOT NULL DEFAULT 0,
    stock_cid           text        NOT NULL,
    foil_cid            text        NOT NULL,
    memo                text        NOT NULL DEFAULT '',
    stock_limit_milli   bigint      NOT NULL DEFAULT 0,
    foil_limit_milli    bigint      NOT NULL DEFAULT 0,
    lift_lower_milli    bigint      NOT NULL DEFAULT 0,
    lift_upper_milli    bigint      NOT NULL DEFAULT 0,
    balance_milli       bigint      NOT NULL DEFAULT 0,
    chit_count          bigint      NOT NULL DEFAULT 0,
    body                jsonb,
    head_hash           text        NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX tallies_by_stock ON site.tallies (stock_cid);
CREATE INDEX tallies_by_foil ON site.tallies (foil_cid);

CREATE TABLE site.chits (
    chit_id              uuid        PRIMARY KEY,
    tally_id             uuid        NOT NULL,
    chit_index           bigint      NOT NULL,
    by_side              text        NOT NULL CHECK (by_side IN ('stock', 'foil')),
    kind                 text        NOT NULL CHECK (kind IN ('transaction', 'settlement', 'lift')),
    units_milli          bigint      NOT NULL CHECK (units_milli > 0),
    balance_delta_milli  bigint      NOT NULL,
    memo                 text        NOT NULL,
    reference            text        NOT NULL,
    hash                 text        NOT NULL,
    prev_hash            text        NOT NULL,
    issued_at            timestamptz NOT NULL,
    position             bigint      NOT NULL,
    UNIQUE (tally_id, chit_index)
);

CREATE TABLE site.lifts (
    lift_id      uuid        PRIMARY KEY,
    units_milli  bigint      NOT NULL CHECK (units_milli > 0),
    hop_count    integer     NOT NULL,
    hops         jsonb       NOT NULL,
    lifted_at    timestamptz NOT NULL,
    position     bigint      NOT NULL
);

-- Per user and tally: the user's side of the balance (+ = the user is owed). A view, so it can never
-- disagree with site.tallies.
CREATE VIEW site.balances AS
    SELECT stock_cid AS cid, tally_id, foil_cid AS counterpart_cid, 'stock' AS side, status, balance_milli
      FROM site.tallies WHERE status IN ('open', 'closing', 'closed')
    UNION ALL
    SELECT foil_cid, tally_id, stock_cid, 'foil', status, -balance_milli
      FROM site.tallies WHERE status IN ('open', 'closing', 'closed');

-- The edges the lift finders walk: who may pay whom on which open tally, and how much.
CREATE VIEW site.lift_edges AS
    SELECT tally_id, 'stock' AS payer_side, stock_cid AS payer_cid, foil_cid AS payee_cid,
           balance_milli - lift_lower_milli AS capacity_milli
      FROM site.tallies WHERE status = 'open'
    UNION ALL
    SELECT tally_id, 'foil', foil_cid, stock_cid, lift_upper_milli - balance_milli
      FROM site.tallies WHERE status = 'open';

GRANT SELECT, INSERT, UPDATE, DELETE ON site.site, site.users, site.device_keys, site.tallies, site.chits, site.lifts
    TO notch_app;
GRANT SELECT ON site.balances, site.lift_edges TO notch_app;
GRANT SELECT ON site.site, site.users, site.tallies, site.chits, site.lifts, site.balances TO notch_report;

-- Nonces of signed user commands seen within the acceptance window: a replayed command is refused.
CREATE TABLE site.command_nonces (
    public_key  text        NOT NULL,
    nonce       text        NOT NULL,
    seen_at     timestamptz NOT NULL,
    PRIMARY KEY (public_key, nonce)
);
CREATE INDEX command_nonces_by_time ON site.command_nonces (seen_at);
GRANT SELECT, INSERT, DELETE ON site.command_nonces TO notch_app;

-- Lift chits live in the `lifts` stream (a lift commits in one append); loading a tally finds them here.
CREATE INDEX events_site_lift_chits ON events ((payload #>> '{chit,tally_id}'), position)
    WHERE stream_id = 'lifts';
