-- What a provider read through each policy (its own log's `readings-<policy id>` streams): the channels it
-- opened with a device's grant, and every reading it decrypted. Empty on a ledger; filled on a provider's node.
CREATE TABLE home.provider_channels (
    policy_id      uuid        NOT NULL,
    channel        text        NOT NULL,   -- hex of the channel's public key
    device_id      text        NOT NULL,
    home           text        NOT NULL,   -- the owner key (hex)
    from_index     bigint      NOT NULL CHECK (from_index >= 0),
    epoch          bigint      NOT NULL,
    opened_at      timestamptz NOT NULL,
    closed_at      timestamptz,            -- when a KEY_ROTATION left this provider out
    closed_index   bigint,
    PRIMARY KEY (policy_id, channel)
);

CREATE TABLE home.provider_readings (
    policy_id         uuid        NOT NULL,
    channel           text        NOT NULL,
    message_index     bigint      NOT NULL CHECK (message_index >= 0),
    device_id         text        NOT NULL,
    epoch             bigint      NOT NULL,
    from_at           timestamptz NOT NULL,
    until_at          timestamptz NOT NULL,
    samples           integer     NOT NULL,
    power_import_w    bigint,
    power_export_w    bigint,
    energy_import_wh  bigint,
    energy_export_wh  bigint,
    gas_dm3           bigint,
    phases            jsonb,
    stored_at         timestamptz NOT NULL,
    position          bigint      NOT NULL,
    PRIMARY KEY (policy_id, channel, message_index)
);
CREATE INDEX provider_readings_by_device ON home.provider_readings (device_id, until_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON home.provider_channels, home.provider_readings TO notch_app;
GRANT SELECT ON home.provider_channels, home.provider_readings TO notch_report;

CREATE SCHEMA IF NOT EXISTS report;
GRANT USAGE ON SCHEMA report TO notch_report, notch_app;

-- Every reading, per device and policy, newest last.
CREATE VIEW report.provider_readings AS
SELECT r.device_id, r.policy_id, r.channel, r.message_index, r.from_at, r.until_at, r.samples,
       r.power_import_w, r.power_export_w, r.energy_import_wh, r.energy_export_wh, r.gas_dm3, r.phases,
       r.stored_at
FROM home.provider_readings r;

-- Each policy's channels: whether they still open, how many readings, the last one's time.
CREATE VIEW report.provider_policies AS
SELECT c.policy_id, c.device_id, c.home, c.channel, c.from_index, c.opened_at, c.closed_at,
       CASE WHEN c.closed_at IS NULL THEN 'reading' ELSE 'rotated_out' END AS state,
       count(r.message_index) AS readings, max(r.until_at) AS last_reading_until
FROM home.provider_channels c
LEFT JOIN home.provider_readings r ON r.policy_id = c.policy_id AND r.channel = c.channel
GROUP BY c.policy_id, c.device_id, c.home, c.channel, c.from_index, c.opened_at, c.closed_at;

-- notch_app too: `notch provider readings` reads them as the provider's service.
GRANT SELECT ON report.provider_readings, report.provider_policies TO notch_report, notch_app;
