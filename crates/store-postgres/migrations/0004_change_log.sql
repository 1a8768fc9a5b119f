-- The control plane's change log: one global sequence over every control-plane change (registry events,
-- deployment events, and what later levels add), written in the same transaction as the change. Each entry
-- points at the detailed event of its topic (`topic_seq`), which keeps its own table and history.
CREATE TABLE change_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        TEXT NOT NULL,
    subject      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    topic_seq    BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    -- A small JSON object naming what changed (e.g. {"version": 3, "alias": "champion"}).
    detail_json  TEXT
);
CREATE INDEX change_log_by_subject ON change_log (topic, subject, seq);

-- Each deployment event carries the deployment's revision after it, so a history reads 1, 2, 3 … per
-- deployment instead of jumping with the global sequence.
ALTER TABLE deployment_events ADD COLUMN revision BIGINT;
CREATE INDEX deployment_events_by_kind ON deployment_events (kind, seq);
