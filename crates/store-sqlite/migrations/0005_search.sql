-- Search at scale: the smallest and largest value of each run's metric (NaN left out; NULL while every
-- point is NaN), kept on write beside the latest one, and the indexes that let a search walk runs in the
-- order it sorts them: by a metric's latest value, and by start time within an experiment.

ALTER TABLE latest_metrics ADD COLUMN min_value REAL;
ALTER TABLE latest_metrics ADD COLUMN max_value REAL;

UPDATE latest_metrics SET
    min_value = (SELECT MIN(m.value) FROM metrics m
                 WHERE m.run_id = latest_metrics.run_id AND m.key = latest_metrics.key AND m.is_nan = 0),
    max_value = (SELECT MAX(m.value) FROM metrics m
                 WHERE m.run_id = latest_metrics.run_id AND m.key = latest_metrics.key AND m.is_nan = 0);

CREATE INDEX latest_metrics_by_value ON latest_metrics (key, value);
CREATE INDEX runs_by_start_time ON runs (experiment_id, start_time);
