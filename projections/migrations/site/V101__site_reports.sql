-- Reporting views for psql (schema `report`), readable by the read-only role notch_report.
-- Example: SET ROLE notch_report; SELECT * FROM report.balances ORDER BY net_milli DESC LIMIT 10;
CREATE SCHEMA IF NOT EXISTS report;
GRANT USAGE ON SCHEMA report TO notch_report, notch_app;

CREATE VIEW report.users AS
    SELECT u.cid, u.name, u.status, u.contact, u.created_at,
           (SELECT count(*) FROM site.device_keys k WHERE k.cid = u.cid) AS device_keys,
           (SELECT count(*) FROM site.tallies t WHERE (t.stock_cid = u.cid OR t.foil_cid = u.cid)
                                                AND t.status = 'open') AS open_tallies
      FROM site.users u;

CREATE VIEW report.tallies AS
    SELECT tally_id, status, stock_cid, foil_cid, memo, stock_limit_milli, foil_limit_milli,
           balance_milli, chit_count, created_at, updated_at
      FROM site.tallies;

-- One row per user: what others owe them (assets), what they owe (debts), and the net position.
CREATE VIEW report.balances AS
    SELECT u.cid,
           coalesce(sum(b.balance_milli) FILTER (WHERE b.balance_milli > 0), 0)::bigint AS assets_milli,
           coalesce(-sum(b.balance_milli) FILTER (WHERE b.balance_milli < 0), 0)::bigint AS debts_milli,
           coalesce(sum(b.balance_milli), 0)::bigint AS net_milli
      FROM site.users u LEFT JOIN site.balances b ON b.cid = u.cid
     GROUP BY u.cid;

CREATE VIEW report.chits AS
    SELECT c.chit_id, c.tally_id, c.chit_index, c.kind, c.by_side,
           CASE c.by_side WHEN 'stock' THEN t.stock_cid ELSE t.foil_cid END AS payer_cid,
           CASE c.by_side WHEN 'stock' THEN t.foil_cid ELSE t.stock_cid END AS payee_cid,
           c.units_milli, c.memo, c.reference, c.issued_at
      FROM site.chits c JOIN site.tallies t USING (tally_id);

CREATE VIEW report.lifts AS
    SELECT lift_id, units_milli, hop_count,
           ARRAY(SELECT h->>'payer_cid' FROM jsonb_array_elements(hops) h) AS users,
           lifted_at
      FROM site.lifts;

GRANT SELECT ON report.users, report.tallies, report.balances, report.chits, report.lifts TO notch_report, notch_app;
