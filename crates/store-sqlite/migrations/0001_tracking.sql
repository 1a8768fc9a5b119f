-- Experiment tracking schema (MLflow-compatible semantics).

CREATE TABLE experiments (
    experiment_id     INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    artifact_location TEXT    NOT NULL,
    lifecycle_stage   TEXT    NOT NULL DEFAULT 'active',
    creation_time     INTEGER NOT NULL,
    last_update_time  INTEGER NOT NULL
);

CREATE TABLE experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;

-- The Default experiment every MLflow server has.
INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active',
        CAST(unixepoch('subsec') * 1000 AS INTEGER), CAST(unixepoch('subsec') * 1000 AS INTEGER));

CREATE TABLE runs (
    run_id          TEXT    PRIMARY KEY,
    experiment_id   INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name            TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    start_time      INTEGER,
    end_time        INTEGER,
    artifact_uri    TEXT    NOT NULL,
    lifecycle_stage TEXT    NOT NULL DEFAULT 'active',
    deleted_time    INTEGER
) WITHOUT ROWID;
CREATE INDEX runs_by_experiment ON runs (experiment_id, lifecycle_stage);

CREATE TABLE params (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE tags (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- Every metric point. NaN is stored as value 0 with is_nan = 1 (SQLite turns NaN into NULL).
-- An identical point logged twice is kept once, as in MLflow.
CREATE TABLE metrics (
    run_id         TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    key            TEXT    NOT NULL,
    value          REAL    NOT NULL,
    is_nan         INTEGER NOT NULL,
    step           INTEGER NOT NULL,
    timestamp      INTEGER NOT NULL,
    model_id       TEXT,
    dataset_name   TEXT,
    dataset_digest TEXT,
    UNIQUE (run_id, key, step, timestamp, value, is_nan)
);
CREATE INDEX metrics_by_model ON metrics (model_id) WHERE model_id IS NOT NULL;

-- The latest point of each metric of each run (largest step, then timestamp, then value), kept on write so
-- that searches never scan history.
CREATE TABLE latest_metrics (
    run_id    TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    value     REAL    NOT NULL,
    is_nan    INTEGER NOT NULL,
    step      INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE datasets (
    dataset_id    INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name          TEXT    NOT NULL,
    digest        TEXT    NOT NULL,
    source_type   TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    schema        TEXT,
    profile       TEXT,
    UNIQUE (experiment_id, name, digest)
);

CREATE TABLE run_dataset_inputs (
    run_id     TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    dataset_id INTEGER NOT NULL REFERENCES datasets (dataset_id),
    PRIMARY KEY (run_id, dataset_id)
) WITHOUT ROWID;

CREATE TABLE run_dataset_input_tags (
    run_id     TEXT    NOT NULL,
    dataset_id INTEGER NOT NULL,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    PRIMARY KEY (run_id, dataset_id, key),
    FOREIGN KEY (run_id, dataset_id) REFERENCES run_dataset_inputs (run_id, dataset_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE run_model_inputs (
    run_id   TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    PRIMARY KEY (run_id, model_id)
) WITHOUT ROWID;

CREATE TABLE run_model_outputs (
    run_id   TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    model_id TEXT    NOT NULL,
    step     INTEGER NOT NULL,
    PRIMARY KEY (run_id, model_id)
) WITHOUT ROWID;

CREATE TABLE logged_models (
    model_id                  TEXT    PRIMARY KEY,
    experiment_id             INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name                      TEXT    NOT NULL,
    artifact_uri              TEXT    NOT NULL,
    creation_timestamp_ms     INTEGER NOT NULL,
    last_updated_timestamp_ms INTEGER NOT NULL,
    status                    TEXT    NOT NULL,
    status_message            TEXT,
    model_type                TEXT,
    source_run_id             TEXT,
    lifecycle_stage           TEXT    NOT NULL DEFAULT 'active'
) WITHOUT ROWID;
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;
