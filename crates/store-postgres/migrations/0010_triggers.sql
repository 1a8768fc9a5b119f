-- Triggers (maturity level 5): a registered pipeline's triggers, replaced when it is registered again
-- (a paused trigger that stays keeps being paused); each firing is unique per (pipeline, trigger, slot),
-- so a cron slot, a digest, an alert or an idempotency key fires once however many servers see it. A
-- triggered run is queued, then claimed by one server's executor under a lease that the server renews;
-- a run whose lease lapsed (its server died) is claimed again.
CREATE TABLE triggers (
    pipeline   TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    spec_json  TEXT   NOT NULL,
    paused     BIGINT NOT NULL DEFAULT 0,
    state_json TEXT   NOT NULL DEFAULT '{}',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (pipeline, name)
);
CREATE TABLE trigger_fires (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline   TEXT   NOT NULL,
    trigger    TEXT   NOT NULL,
    slot       TEXT   NOT NULL,
    outcome    TEXT   NOT NULL,
    reason     TEXT,
    run_id     TEXT,
    cause_json TEXT   NOT NULL,
    actor      TEXT   NOT NULL,
    fired_ms   BIGINT NOT NULL,
    UNIQUE (pipeline, trigger, slot)
);
CREATE INDEX trigger_fires_by_trigger ON trigger_fires (pipeline, trigger, seq);
ALTER TABLE pipeline_runs ADD COLUMN execution_json TEXT;
ALTER TABLE pipeline_runs ADD COLUMN claimed_by TEXT;
ALTER TABLE pipeline_runs ADD COLUMN lease_until_ms BIGINT;
ALTER TABLE pipeline_runs ADD COLUMN max_active BIGINT;
ALTER TABLE pipeline_runs ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE pipeline_runs ADD COLUMN cancel_requested BIGINT NOT NULL DEFAULT 0;
CREATE INDEX pipeline_runs_by_status ON pipeline_runs (status, seq);
