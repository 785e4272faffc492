-- The log's own small projection: every stream and its head.
CREATE SCHEMA log_views;
GRANT USAGE ON SCHEMA log_views TO notch_app, notch_report;

CREATE TABLE log_views.stream_heads (
    stream_id         text        PRIMARY KEY,
    version           bigint      NOT NULL,
    event_count       bigint      NOT NULL,
    first_position    bigint      NOT NULL,
    last_position     bigint      NOT NULL,
    last_event_type   text        NOT NULL,
    last_event_time   timestamptz NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON log_views.stream_heads TO notch_app;
GRANT SELECT ON log_views.stream_heads TO notch_report;
