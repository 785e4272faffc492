-- The writer's guard for commits linked onto a chain tail that was not yet committed when they were sent
-- (see events/src/store/writer.rs). Called after the chain lock: the previous commit has then either ended
-- (committed and visible, or rolled back) or not begun. Raises NTCH1 unless position `tail_position` is
-- committed with hash `tail_hash`, so a commit can never land after a predecessor that did not.
CREATE FUNCTION notch_expect_tail(tail_position bigint, tail_hash bytea) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM events WHERE position = tail_position AND hash = tail_hash) THEN
        RAISE EXCEPTION 'notch: the chain''s tail is not position % with the expected hash', tail_position
            USING ERRCODE = 'NTCH1';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION notch_expect_tail(bigint, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION notch_expect_tail(bigint, bytea) TO notch_app;
