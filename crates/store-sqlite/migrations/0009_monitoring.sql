-- Monitoring (maturity level 5). A monitor's spec and its reference's profile are JSON documents; each
-- evaluation is a snapshot (flat values for rules and gauges, and the whole report); alerts are written
-- with the snapshot that fired them. A scheduled slot is evaluated once across servers:
-- UNIQUE (monitor, slot_ms) (NULL slots, evaluations by hand, never clash).
CREATE TABLE monitors (
    name         TEXT   PRIMARY KEY,
    spec_json    TEXT   NOT NULL,
    profile_json TEXT   NOT NULL,
    paused       BIGINT NOT NULL DEFAULT 0,
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL
);
CREATE TABLE monitor_snapshots (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor         TEXT   NOT NULL,
    taken_ms        BIGINT NOT NULL,
    window_start_ms BIGINT NOT NULL,
    window_end_ms   BIGINT NOT NULL,
    slot_ms         BIGINT,
    rows_count      BIGINT NOT NULL,
    values_json     TEXT   NOT NULL,
    report_json     TEXT   NOT NULL,
    UNIQUE (monitor, slot_ms)
);
CREATE INDEX monitor_snapshots_by_monitor ON monitor_snapshots (monitor, id);
CREATE TABLE monitor_alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    monitor     TEXT   NOT NULL,
    rule        TEXT   NOT NULL,
    condition   TEXT   NOT NULL,
    value_json  TEXT   NOT NULL,
    snapshot_id BIGINT NOT NULL,
    fired_ms    BIGINT NOT NULL
);
CREATE INDEX monitor_alerts_by_monitor ON monitor_alerts (monitor, id);
-- Delayed labels of a deployment's logged predictions: by request id and row, or by a key column's
-- value; `ident` is that identity, so a corrected label replaces the earlier one.
CREATE TABLE prediction_labels (
    deployment  TEXT   NOT NULL,
    ident       TEXT   NOT NULL,
    request_id  TEXT,
    row_index   BIGINT NOT NULL,
    key_column  TEXT,
    key_value   TEXT,
    label_json  TEXT   NOT NULL,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (deployment, ident)
);
CREATE INDEX prediction_labels_by_time ON prediction_labels (deployment, received_ms);
