-- Governance (maturity level 6): users, hashed API tokens, grants, protected aliases, promotion requests
-- with their approvals, policy bundles and decisions, model cards, and the tamper-evident audit chain.
CREATE TABLE users (
    name          TEXT   PRIMARY KEY,
    password_hash TEXT,
    is_admin      BIGINT NOT NULL DEFAULT 0,
    created_ms    BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL
);
-- Only the SHA-256 of a token's secret is kept; the token itself is shown once.
CREATE TABLE api_tokens (
    id          TEXT   PRIMARY KEY,
    user_name   TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    secret_hash TEXT   NOT NULL,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT,
    revoked_ms  BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_name);
CREATE TABLE grants (
    user_name  TEXT   NOT NULL,
    role       TEXT   NOT NULL,
    scope      TEXT   NOT NULL,
    created_ms BIGINT NOT NULL,
    created_by TEXT   NOT NULL,
    PRIMARY KEY (user_name, role, scope)
);
CREATE TABLE protections (
    models     TEXT   NOT NULL,
    alias      TEXT   NOT NULL,
    approvals  BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    created_by TEXT   NOT NULL,
    PRIMARY KEY (models, alias)
);
CREATE TABLE promotions (
    id                 TEXT   PRIMARY KEY,
    seq                BIGINT NOT NULL,
    model              TEXT   NOT NULL,
    version            BIGINT NOT NULL,
    alias              TEXT   NOT NULL,
    reason             TEXT   NOT NULL,
    state              TEXT   NOT NULL,
    requested_by       TEXT   NOT NULL,
    requested_via      TEXT   NOT NULL,
    version_creator    TEXT,
    artifact_digest    TEXT,
    required_approvals BIGINT NOT NULL,
    approvals_json     TEXT   NOT NULL DEFAULT '[]',
    previous_version   BIGINT,
    decision_id        TEXT,
    note               TEXT,
    created_ms         BIGINT NOT NULL,
    updated_ms         BIGINT NOT NULL,
    expires_ms         BIGINT NOT NULL
);
CREATE INDEX promotions_by_model ON promotions (model, state);
CREATE TABLE policy_bundles (
    hash       TEXT   PRIMARY KEY,
    files_json TEXT   NOT NULL,
    entrypoint TEXT   NOT NULL,
    active     BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    created_by TEXT   NOT NULL
);
CREATE TABLE policy_decisions (
    id           TEXT   PRIMARY KEY,
    seq          BIGINT NOT NULL,
    promotion_id TEXT,
    action       TEXT   NOT NULL,
    bundle_hash  TEXT   NOT NULL,
    input_hash   TEXT   NOT NULL,
    input_json   TEXT   NOT NULL,
    result_json  TEXT   NOT NULL,
    allow        BIGINT NOT NULL,
    at_ms        BIGINT NOT NULL
);
CREATE INDEX policy_decisions_by_promotion ON policy_decisions (promotion_id, seq);
CREATE TABLE model_cards (
    model        TEXT   NOT NULL,
    version      BIGINT NOT NULL,
    status       TEXT   NOT NULL,
    authored_json TEXT  NOT NULL,
    updated_by   TEXT   NOT NULL,
    updated_ms   BIGINT NOT NULL,
    PRIMARY KEY (model, version)
);
-- The audit chain: every change-log entry, chained in the transaction that writes it. `seq` is assigned
-- as head + 1 under the control plane's write lock (not an identity column, which gaps on rollback);
-- `entry` holds the canonical bytes that were hashed, the other columns index them.
CREATE TABLE audit_log (
    seq           BIGINT PRIMARY KEY,
    ts_ms         BIGINT NOT NULL,
    actor         TEXT   NOT NULL,
    action        TEXT   NOT NULL,
    resource_kind TEXT   NOT NULL,
    resource_id   TEXT   NOT NULL,
    entry         TEXT   NOT NULL,
    leaf_hash     TEXT   NOT NULL,
    chain_hash    TEXT   NOT NULL
);
CREATE INDEX audit_log_by_resource ON audit_log (resource_kind, resource_id, seq);
-- Signed checkpoints (notes); the signing key is never in the database.
CREATE TABLE audit_checkpoints (
    size  BIGINT PRIMARY KEY,
    note  TEXT   NOT NULL,
    ts_ms BIGINT NOT NULL
);
CREATE TABLE audit_meta (
    id     BIGINT PRIMARY KEY CHECK (id = 1),
    log_id TEXT   NOT NULL
);
INSERT INTO audit_meta (id, log_id) VALUES (1, md5(random()::text || clock_timestamp()::text));
