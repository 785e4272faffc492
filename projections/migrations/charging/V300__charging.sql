-- Views of the charging context (registration authority and charging provider), built by the `charging`
-- projection. No column holds a card number or a CVC: only the keyed token and the last four digits.
CREATE SCHEMA charging;
GRANT USAGE ON SCHEMA charging TO notch_app, notch_report;

CREATE TABLE charging.authority_users (
    uid            text        PRIMARY KEY,
    alias          text        NOT NULL,
    public_key     text        NOT NULL,
    trust          text        NOT NULL CHECK (trust IN ('untrusted', 'trusted')),
    card_token     text,
    card_last4     text,
    card_expiry    text,
    connected_at   timestamptz NOT NULL,
    trusted_at     timestamptz
);

CREATE TABLE charging.credentials (
    provider_uid   text        NOT NULL,
    id_tag         text        NOT NULL CHECK (length(id_tag) BETWEEN 1 AND 20),
    uid            text        NOT NULL,
    registered_at  timestamptz NOT NULL,
    PRIMARY KEY (provider_uid, id_tag),
    UNIQUE (provider_uid, uid)
);

CREATE TABLE charging.authority_certificates (
    serial             text        PRIMARY KEY,
    subject_uid        text        NOT NULL,
    issuer_uid         text        NOT NULL,
    issued_at          timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz,
    revocation_reason  text
);
CREATE INDEX ON charging.authority_certificates (subject_uid);

CREATE TABLE charging.trusted_authorities (
    authority_uid  text        PRIMARY KEY,
    public_key     text        NOT NULL,
    alias          text        NOT NULL,
    trusted_at     timestamptz NOT NULL
);

CREATE TABLE charging.charge_points (
    charge_point_id  text        PRIMARY KEY,
    vendor           text        NOT NULL,
    model            text        NOT NULL,
    booted_at        timestamptz NOT NULL
);

CREATE TABLE charging.sessions (
    charge_point_id     text        NOT NULL,
    transaction_id      integer     NOT NULL,
    connector_id        integer     NOT NULL,
    uid                 text        NOT NULL,
    id_tag              text        NOT NULL,
    certificate_serial  text        NOT NULL,
    meter_start_wh      bigint      NOT NULL,
    last_energy_wh      bigint      NOT NULL,
    started_at          timestamptz NOT NULL,
    stopped_at          timestamptz,
    meter_stop_wh       bigint,
    stop_reason         text,
    PRIMARY KEY (charge_point_id, transaction_id)
);

CREATE TABLE charging.bills (
    charge_point_id     text        NOT NULL,
    transaction_id      integer     NOT NULL,
    connector_id        integer     NOT NULL,
    uid                 text        NOT NULL,
    id_tag              text        NOT NULL,
    certificate_serial  text        NOT NULL,
    meter_start_wh      bigint      NOT NULL,
    meter_stop_wh       bigint      NOT NULL,
    energy_wh           bigint      NOT NULL CHECK (energy_wh >= 0),
    started_at          timestamptz NOT NULL,
    stopped_at          timestamptz NOT NULL,
    PRIMARY KEY (charge_point_id, transaction_id)
);
CREATE INDEX ON charging.bills (uid);

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA charging TO notch_app;
GRANT SELECT ON ALL TABLES IN SCHEMA charging TO notch_report;
