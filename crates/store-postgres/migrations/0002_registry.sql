-- The model registry: registered models, versions, tags, aliases, and the change log.
-- Child rows follow a rename through ON UPDATE CASCADE; the change log has no foreign key so that it
-- outlives what it describes.

CREATE TABLE registered_models (
    name                   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    -- Stable across renames: the change log is keyed by it.
    model_key              TEXT NOT NULL UNIQUE,
    creation_timestamp     BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    description            TEXT
);

CREATE TABLE registered_model_tags (
    name  TEXT COLLATE "C" NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    key   TEXT COLLATE "C" NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);

CREATE TABLE model_versions (
    name                   TEXT COLLATE "C" NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    version                BIGINT NOT NULL,
    creation_timestamp     BIGINT NOT NULL,
    last_updated_timestamp BIGINT NOT NULL,
    description            TEXT,
    user_id                TEXT,
    current_stage          TEXT NOT NULL,
    source                 TEXT NOT NULL,
    storage_location       TEXT NOT NULL,
    run_id                 TEXT,
    run_link               TEXT,
    model_id               TEXT,
    status                 TEXT NOT NULL,
    status_message         TEXT,
    -- Deleted versions stay (numbers are never reused) but are invisible.
    deleted                BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version)
);

CREATE TABLE model_version_tags (
    name    TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    key     TEXT COLLATE "C" NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON UPDATE CASCADE ON DELETE CASCADE
);

CREATE TABLE registered_model_aliases (
    name    TEXT COLLATE "C" NOT NULL REFERENCES registered_models (name) ON UPDATE CASCADE ON DELETE CASCADE,
    alias   TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias)
);

CREATE TABLE registry_events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_key    TEXT NOT NULL,
    model_name   TEXT COLLATE "C" NOT NULL,
    kind         TEXT NOT NULL,
    version      BIGINT,
    alias        TEXT,
    actor        TEXT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    before_json  TEXT,
    after_json   TEXT
);
CREATE INDEX registry_events_by_model ON registry_events (model_key, seq);
CREATE INDEX registry_events_by_name ON registry_events (model_name, seq);
