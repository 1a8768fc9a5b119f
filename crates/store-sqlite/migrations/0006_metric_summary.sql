-- Charts at any length: a summary pyramid of each run's metric history, kept on write. At level s, bucket b
-- holds the points whose step lies in [b << s, (b + 1) << s): how many, their smallest and largest value
-- (NaN left out; NULL while every value is NaN), first step, time span, and newest point (largest step, then
-- timestamp, then NaN-ness, then value). A chart of a million points reads a thousand of these rows
-- (cairn_domain::metric_series). Backfilled here from the history already logged.

CREATE TABLE metric_summary (
    run_id         TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    key            TEXT    NOT NULL,
    level          INTEGER NOT NULL,
    bucket         INTEGER NOT NULL,
    n              INTEGER NOT NULL,
    min_value      REAL,
    max_value      REAL,
    first_step     INTEGER NOT NULL,
    min_timestamp  INTEGER NOT NULL,
    max_timestamp  INTEGER NOT NULL,
    last_step      INTEGER NOT NULL,
    last_timestamp INTEGER NOT NULL,
    last_value     REAL    NOT NULL,
    last_is_nan    INTEGER NOT NULL,
    PRIMARY KEY (run_id, key, level, bucket)
) WITHOUT ROWID;

-- Every level at once: the levels are cairn_domain::metric_series::SUMMARY_LEVELS.
INSERT INTO metric_summary
SELECT run_id, key, level, bucket, n, min_value, max_value, first_step, min_timestamp, max_timestamp,
       step, timestamp, value, is_nan
FROM (SELECT run_id, key, level, step >> level AS bucket, step, timestamp, value, is_nan,
             ROW_NUMBER() OVER (PARTITION BY run_id, key, level, step >> level
                                ORDER BY step DESC, timestamp DESC, is_nan DESC, value DESC) AS newest,
             COUNT(*) OVER b AS n,
             MIN(CASE WHEN is_nan = 0 THEN value END) OVER b AS min_value,
             MAX(CASE WHEN is_nan = 0 THEN value END) OVER b AS max_value,
             MIN(step) OVER b AS first_step,
             MIN(timestamp) OVER b AS min_timestamp,
             MAX(timestamp) OVER b AS max_timestamp
      FROM metrics CROSS JOIN (SELECT 6 AS level UNION ALL SELECT 10 UNION ALL SELECT 14
                               UNION ALL SELECT 18) levels
      WINDOW b AS (PARTITION BY run_id, key, level, step >> level)) points
WHERE newest = 1;
