-- The writer's guard for speculative commits to streams it has not seen (see events/src/store/writer.rs): an
-- append that expects stream s at version v is linked as version v + 1 on trust, and this check, in the same
-- transaction, refuses the commit (SQLSTATE NTCH2) unless version v of s is committed. With the unique key on
-- (stream_id, stream_version), which refuses a second version v + 1, that keeps every stream dense.
CREATE FUNCTION notch_expect_versions(stream_ids text[], versions bigint[]) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    missing text;
BEGIN
    SELECT s.id INTO missing
      FROM unnest(stream_ids, versions) AS s(id, version)
     WHERE NOT EXISTS (SELECT FROM events e WHERE e.stream_id = s.id AND e.stream_version = s.version)
     LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'notch: stream % is not at the version the append expects', missing USING ERRCODE = 'NTCH2';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION notch_expect_versions(text[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notch_expect_versions(text[], bigint[]) TO notch_app;
