-- Pipelines on the server (maturity level 4). A registered version is a content-addressed snapshot of a
-- project: its file list (path, BLAKE3 digest, size, mode) is one JSON document, the bytes are objects in
-- the artifact store. A pipeline run is keyed by its MLflow run; its report (stages, gates, promotion) is
-- one JSON document written when it ends. Both write their change-log entries in the same transaction.

CREATE TABLE pipeline_versions (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT NOT NULL,
    version       BIGINT NOT NULL,
    file          TEXT NOT NULL,
    files_json    TEXT NOT NULL,
    digest        TEXT NOT NULL,
    triggers_json TEXT NOT NULL,
    actor         TEXT NOT NULL,
    registered_ms BIGINT NOT NULL,
    UNIQUE (name, version)
);

CREATE TABLE pipeline_runs (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id           TEXT NOT NULL UNIQUE,
    pipeline         TEXT NOT NULL,
    experiment_id    TEXT NOT NULL,
    pipeline_version BIGINT,
    executor         TEXT NOT NULL,
    cause_json       TEXT NOT NULL,
    dag_json         TEXT NOT NULL,
    status           TEXT NOT NULL,
    exit_code        BIGINT,
    report_json      TEXT,
    actor            TEXT NOT NULL,
    started_ms       BIGINT NOT NULL,
    ended_ms         BIGINT
);
CREATE INDEX pipeline_runs_by_pipeline ON pipeline_runs (pipeline, seq);
