-- The signed, hash-chained event log. Positions are assigned by the single writer under an advisory lock
-- (never by a sequence), so a reader can never see position N+1 committed before N.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'notch_app') THEN
        CREATE ROLE notch_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'notch_report') THEN
        CREATE ROLE notch_report NOLOGIN;
    END IF;
END
$$;

CREATE TABLE events (
    position        bigint      PRIMARY KEY CHECK (position >= 1),
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version >= 1),
    event_type      text        NOT NULL,
    payload         jsonb       NOT NULL,
    time            timestamptz NOT NULL,
    signer          bytea       NOT NULL CHECK (length(signer) = 32),
    signature       bytea       NOT NULL CHECK (length(signature) = 64),
    prev_hash       bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash            bytea       NOT NULL CHECK (length(hash) = 32),
    UNIQUE (stream_id, stream_version)
);

-- One seal per committed batch: the node's signature over (position, hash) of the batch's last event.
CREATE TABLE event_seals (
    position   bigint      PRIMARY KEY,
    hash       bytea       NOT NULL CHECK (length(hash) = 32),
    sealed_at  timestamptz NOT NULL,
    signer     bytea       NOT NULL CHECK (length(signer) = 32),
    signature  bytea       NOT NULL CHECK (length(signature) = 64)
);

CREATE FUNCTION notch_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'notch: % on % is forbidden: the event log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION notch_reject_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION notch_reject_change();
CREATE TRIGGER event_seals_append_only BEFORE UPDATE OR DELETE ON event_seals
    FOR EACH ROW EXECUTE FUNCTION notch_reject_change();
CREATE TRIGGER event_seals_no_truncate BEFORE TRUNCATE ON event_seals
    FOR EACH STATEMENT EXECUTE FUNCTION notch_reject_change();

REVOKE ALL ON events, event_seals FROM PUBLIC;
GRANT SELECT, INSERT ON events, event_seals TO notch_app;
GRANT SELECT ON events, event_seals TO notch_report;

-- Projection checkpoints: the position each projection has applied up to, advanced in the same
-- transaction as the projection's own writes.
CREATE TABLE projection_checkpoints (
    name        text        PRIMARY KEY,
    position    bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON projection_checkpoints TO notch_app;
GRANT SELECT ON projection_checkpoints TO notch_report;
