-- Deployments: named endpoints bound to registered models, and their history. The state (spec and what
-- it resolves to) is one JSON document written and read whole; the history has no foreign key so that it
-- outlives the deployment.

CREATE TABLE deployments (
    name         TEXT NOT NULL PRIMARY KEY,
    state_json   TEXT NOT NULL,
    -- Grows by one with every change: writes are conditional on the revision the writer read.
    revision     BIGINT NOT NULL,
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL
);

CREATE TABLE deployment_events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deployment   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    before_json  TEXT,
    after_json   TEXT
);
CREATE INDEX deployment_events_by_name ON deployment_events (deployment, seq);
