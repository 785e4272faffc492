-- Reporting views of the charging context (schema `report`, read by the notch_report role), for psql.
CREATE SCHEMA IF NOT EXISTS report;
GRANT USAGE ON SCHEMA report TO notch_report;

-- Energy and sessions per user and day (UTC), from the provider's bills.
CREATE OR REPLACE VIEW report.charging_daily_energy AS
SELECT uid,
       (stopped_at AT TIME ZONE 'UTC')::date AS day,
       count(*)                               AS sessions,
       sum(energy_wh)::bigint                 AS energy_wh,
       sum(extract(epoch FROM stopped_at - started_at))::bigint AS charging_s
FROM charging.bills
GROUP BY uid, (stopped_at AT TIME ZONE 'UTC')::date;

-- Each bill with the authority's view of the user (alias, card last four digits).
CREATE OR REPLACE VIEW report.charging_bills AS
SELECT b.charge_point_id, b.transaction_id, b.connector_id, b.uid, u.alias, u.card_last4,
       b.certificate_serial, b.meter_start_wh, b.meter_stop_wh, b.energy_wh, b.started_at, b.stopped_at
FROM charging.bills b
LEFT JOIN charging.authority_users u ON u.uid = b.uid;

-- Certificates by state at the moment of the query.
CREATE OR REPLACE VIEW report.charging_certificates AS
SELECT serial, subject_uid, issuer_uid, issued_at, expires_at, revoked_at, revocation_reason,
       CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
            WHEN expires_at <= now() THEN 'expired'
            ELSE 'valid' END AS state
FROM charging.authority_certificates;

GRANT SELECT ON report.charging_daily_energy, report.charging_bills, report.charging_certificates TO notch_report;
