"""The stored record's JSON as PostgreSQL builds it, and the keyed write that stores it with its answer in one call."""

from __future__ import annotations

from typing import LiteralString


def record_json(user_json: LiteralString, row: LiteralString) -> LiteralString:
    """SQL text of the record's JSON answer: the user_id already JSON-encoded by the caller (so every path escapes it
    the same way), the practice as PostgreSQL stores it (numbers stay exact) and UTC timestamps to the microsecond."""
    return (
        "('{\"user_id\":' || (" + user_json + ")::text || ',\"practice\":' || " + row + ".practice::text"
        " || ',\"version\":' || " + row + ".version"
        ' || \',"created_at":"\' || to_char(' + row + ".created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
        ' || \'+00:00","updated_at":"\' || to_char(' + row + ".updated_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00\"}')"
    )


KEYED_WRITE_FUNCTION = "map_keyed_write_v1"

# One call does what a transaction of five statements did: claim the key, count the subject's live keys, check the
# deadline, upsert with the outbox event, and save the answer. Each statement inside takes a fresh snapshot (READ
# COMMITTED), so a request that waited on a concurrent claim of the same key sees that claim's committed answer and
# replays it; if that one rolled back, the claim succeeds here. A refusal raises, rolling back the claim with it.
# GW429: the subject holds more live keys than the cap (the message is the seconds until its oldest expires);
# GW408: past the deadline, nothing written.
KEYED_WRITE_SCHEMA: LiteralString = """
CREATE INDEX IF NOT EXISTS idempotency_keys_subject_created_at ON idempotency_keys (subject, created_at);
CREATE OR REPLACE FUNCTION map_keyed_write_v1(
    p_subject bytea, p_key text, p_fingerprint bytea, p_ttl double precision, p_cap integer,
    p_user_id text, p_user_json text, p_practice jsonb, p_write_by timestamptz
) RETURNS TABLE (out_kind text, out_status smallint, out_body text, out_version bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    held record;
    live bigint;
    oldest timestamptz;
    written record;
BEGIN
    FOR attempt IN 1..3 LOOP
        INSERT INTO idempotency_keys AS k (subject, key, fingerprint) VALUES (p_subject, p_key, p_fingerprint)
        ON CONFLICT (subject, key) DO UPDATE
            SET fingerprint = EXCLUDED.fingerprint, status = NULL, body = NULL, created_at = clock_timestamp()
            WHERE k.created_at < clock_timestamp() - make_interval(secs => p_ttl);
        EXIT WHEN FOUND;
        SELECT k.fingerprint, k.status, k.body INTO held
        FROM idempotency_keys k WHERE k.subject = p_subject AND k.key = p_key;
        IF FOUND THEN
            IF held.fingerprint <> p_fingerprint THEN
                RETURN QUERY SELECT 'reused'::text, NULL::smallint, NULL::text, NULL::bigint;
            ELSE
                RETURN QUERY SELECT 'replay'::text, held.status, convert_from(held.body, 'UTF8'), NULL::bigint;
            END IF;
            RETURN;
        END IF;
        IF attempt = 3 THEN  -- pruned between the two statements three times in a row
            RAISE EXCEPTION 'idempotency key vanished three times in a row';
        END IF;
    END LOOP;
    SELECT count(*) INTO live FROM (
        SELECT 1 FROM idempotency_keys k
        WHERE k.subject = p_subject AND k.created_at >= clock_timestamp() - make_interval(secs => p_ttl)
        LIMIT p_cap + 1
    ) counted;
    IF live > p_cap THEN
        SELECT min(k.created_at) INTO oldest FROM idempotency_keys k
        WHERE k.subject = p_subject AND k.created_at >= clock_timestamp() - make_interval(secs => p_ttl);
        RAISE EXCEPTION USING ERRCODE = 'GW429', MESSAGE = greatest(1, ceil(
            p_ttl - extract(epoch FROM clock_timestamp() - oldest)))::bigint::text;
    END IF;
    IF clock_timestamp() >= p_write_by THEN
        RAISE EXCEPTION USING ERRCODE = 'GW408', MESSAGE = 'past the write deadline';
    END IF;
    WITH w AS (
        INSERT INTO user_practice AS t (user_id, practice) VALUES (p_user_id, p_practice)
        ON CONFLICT (user_id) DO UPDATE
            SET practice = EXCLUDED.practice, version = t.version + 1, updated_at = clock_timestamp()
        RETURNING t.user_id, t.practice, t.version, t.created_at, t.updated_at, (t.xmax = 0) AS inserted
    ), recorded AS (
        INSERT INTO event_outbox (user_id, version) SELECT w.user_id, w.version FROM w
    )
    SELECT w.version, w.inserted, RECORD AS body INTO written FROM w;
    UPDATE idempotency_keys k
        SET status = CASE WHEN written.inserted THEN 201 ELSE 200 END, body = convert_to(written.body, 'UTF8')
        WHERE k.subject = p_subject AND k.key = p_key;
    RETURN QUERY SELECT 'written'::text, (CASE WHEN written.inserted THEN 201 ELSE 200 END)::smallint,
        written.body, written.version;
END
$fn$
""".replace("RECORD", record_json("p_user_json", "w"))
KEYED_WRITE = (
    "SELECT * FROM map_keyed_write_v1(%(subject)s, %(key)s, %(fingerprint)s, %(ttl)s, %(cap)s,"
    " %(user_id)s, %(user_json)s, %(practice)s, %(write_by)s)"
)
"""The keyed write: one statement, committed on its own."""
