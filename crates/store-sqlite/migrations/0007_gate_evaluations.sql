-- Pipelines' gate evaluations: one record per evaluation (metrics, pinned baseline versions, per-rule
-- values, decision, action) as a JSON document, beside the columns it is looked up by. Written with its
-- change-log entry (topic `gate`, topic_seq = id) in one transaction.
CREATE TABLE gate_evaluations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline_run_id TEXT   NOT NULL,
    model_name      TEXT,
    model_version   BIGINT,
    decision        TEXT   NOT NULL,
    action          TEXT   NOT NULL,
    actor           TEXT   NOT NULL,
    created_ms      BIGINT NOT NULL,
    record_json     TEXT   NOT NULL
);
CREATE INDEX gate_evaluations_by_run ON gate_evaluations (pipeline_run_id, id);
CREATE INDEX gate_evaluations_by_model ON gate_evaluations (model_name, id);
