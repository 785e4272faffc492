-- MAM channel messages by address: how a provider holding a side key finds message i of a
-- channel without the ledger knowing which channel or index it asks for.
CREATE SCHEMA IF NOT EXISTS home;
GRANT USAGE ON SCHEMA home TO notch_app, notch_report;

CREATE TABLE home.mam_messages (
    address        bytea       PRIMARY KEY CHECK (length(address) = 32),
    channel        bytea       NOT NULL CHECK (length(channel) = 32),
    message_index  bigint      NOT NULL CHECK (message_index >= 0),
    epoch          bigint      NOT NULL,
    kind           text        NOT NULL,
    message        text        NOT NULL,   -- base64 of the wire bytes, as in the event
    position       bigint      NOT NULL,   -- the event's position in the log
    UNIQUE (channel, message_index)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON home.mam_messages TO notch_app;
GRANT SELECT ON home.mam_messages TO notch_report;
