"""DuckDB doing `ingest`'s job on a raw JSON log: the peer of bench/ingest.py (issue 13).

    .venv/bin/python bench/duckdb_ingest.py RAW_FOLDER OUT_FOLDER

Two threads, one SQL job: every line read as text (a separator no line holds, so a
malformed one is kept, not skipped), parsed and validated (malformed lines, missing
ids, unknown event types, bad or out-of-range timestamps, bad prices and over-long ids
become quarantine, with ingest's default limits), bots (more than 60
valid events of a user in one minute) and repeated event ids set apart, the clean
events written as Parquet partitioned by day, the quarantine and a per-day tally of
outcomes beside them. Lines the reader refuses (not UTF-8) are kept from its
rejects table and quarantined too. Prints `SECONDS s READ n CLEAN n` (its import counted).
"""

from __future__ import annotations

import sys
import time

START = time.perf_counter()

import duckdb  # noqa: E402  (its import is part of the peer's time)

MARK = """
CREATE TEMP TABLE marked AS
WITH lines AS (
    SELECT line, dt FROM read_csv('{raw}/dt=*/*.gz', columns = {{'line': 'VARCHAR'}}, header = false,
                                  delim = '\\x01', quote = '', escape = '', auto_detect = false,
                                  hive_partitioning = true, store_rejects = true)
), typed AS (
    SELECT line, dt AS source_dt, j IS NULL AS malformed, json_type(j->'price') AS price_type,
           trim(j->>'event_id') AS event_id, trim(j->>'user_id') AS user_id, trim(j->>'item_id') AS item_id,
           j->>'event_type' AS event_type, j->>'category_id' AS category_id,
           TRY_CAST(j->>'price' AS DOUBLE) AS price, TRY_CAST(j->>'ts' AS TIMESTAMPTZ) AS ts
    FROM (SELECT line, CAST(dt AS DATE) AS dt, CASE WHEN json_valid(line) THEN line::JSON END AS j FROM lines)
), checked AS (
    SELECT *, CASE
        WHEN malformed THEN 'malformed'
        WHEN price_type NOT IN ('NULL', 'UBIGINT', 'BIGINT', 'DOUBLE') THEN 'bad_type'
        WHEN coalesce(event_id, '') = '' OR coalesce(user_id, '') = '' OR coalesce(item_id, '') = '' THEN 'missing_id'
        WHEN event_type IS NULL OR event_type NOT IN ('impression', 'click', 'cart', 'purchase') THEN 'bad_event_type'
        WHEN ts IS NULL THEN 'bad_timestamp'
        WHEN ts < source_dt - INTERVAL 3 DAY OR ts >= source_dt + INTERVAL 1 DAY + INTERVAL 10 MINUTE
            THEN 'timestamp_out_of_range'
        WHEN isnan(price) OR price < 0 OR price > 100000 THEN 'bad_price'
        WHEN greatest(length(event_id), length(user_id), length(item_id)) > 256 THEN 'id_too_long'
    END AS reason FROM typed
), bots AS (
    SELECT DISTINCT user_id FROM checked WHERE reason IS NULL
    GROUP BY user_id, date_trunc('minute', ts) HAVING count(*) > 60
), flagged AS (
    SELECT c.* EXCLUDE (reason), coalesce(c.reason, CASE WHEN b.user_id IS NOT NULL THEN 'bot' END) AS reason
    FROM checked c LEFT JOIN bots b ON c.reason IS NULL AND c.user_id = b.user_id
)
SELECT * EXCLUDE (reason), CASE
    WHEN reason IS NOT NULL THEN reason
    WHEN row_number() OVER (PARTITION BY event_id, reason IS NULL ORDER BY ts) > 1 THEN 'duplicate'
END AS reason
FROM flagged
"""
EVENTS = """
COPY (SELECT event_id, ts, user_id, item_id, event_type, category_id, price, CAST(ts AS DATE) AS dt
      FROM marked WHERE reason IS NULL) TO '{out}/events' (FORMAT parquet, PARTITION_BY (dt), OVERWRITE)
"""
# lines the reader refused (not UTF-8) are in its rejects table: quarantine too
QUARANTINE = """
COPY (SELECT line, reason FROM marked WHERE reason IS NOT NULL
      UNION ALL SELECT csv_line, 'not_utf8' FROM reject_errors) TO '{out}/quarantine.parquet'
"""
TALLY = """
COPY (SELECT CAST(ts AS DATE) AS dt, coalesce(reason, 'clean') AS outcome, count(*) AS n
      FROM marked GROUP BY ALL) TO '{out}/tally.parquet'
"""


def main(raw: str, out: str) -> None:
    con = duckdb.connect()
    con.execute("SET threads = 2")
    for statement in (MARK, EVENTS, QUARANTINE, TALLY):
        con.execute(statement.format(raw=raw, out=out))
    read, clean = con.execute("SELECT count(*), count(*) FILTER (reason IS NULL) FROM marked").fetchone()
    (refused,) = con.execute("SELECT count(*) FROM reject_errors").fetchone()
    read += refused
    print("SECONDS", time.perf_counter() - START, "READ", read, "CLEAN", clean, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
