-- versa catalog schema, version 1 (PostgreSQL).
--
-- A superset of MLflow's tracking and model-registry tables plus versa's own
-- datasets, transforms, alias history and lineage edges.
--
-- The same tables, columns, keys and checks as migrations/sqlite/0001_init.sql
-- (keep the two in step: each SQLite migration has a PostgreSQL twin with the
-- same version number). Differences, all forced by the databases:
-- alias_history.id is an identity column (SQLite uses its rowid); NaN metrics
-- keep SQLite's `value 0, is_nan TRUE` encoding so both hold the same rows and
-- a NaN never matches a numeric comparison (PostgreSQL orders NaN above every
-- number).

-- MLflow experiments. experiment_id is TEXT holding an integer, as in MLflow
-- ("0" is MLflow's Default experiment; versa allocates from "1").
CREATE TABLE experiments (
    experiment_id     TEXT    NOT NULL PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    artifact_location TEXT    NOT NULL,
    lifecycle_stage   TEXT    NOT NULL DEFAULT 'active'
                              CHECK (lifecycle_stage IN ('active', 'deleted')),
    creation_time     BIGINT  NOT NULL,
    last_update_time  BIGINT  NOT NULL
);

CREATE TABLE experiment_tags (
    experiment_id TEXT NOT NULL REFERENCES experiments (experiment_id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
);

-- One training (or any tracked) execution. run_id is 32 lowercase hex for
-- runs versa creates.
CREATE TABLE runs (
    run_id          TEXT   NOT NULL PRIMARY KEY,
    experiment_id   TEXT   NOT NULL REFERENCES experiments (experiment_id),
    run_name        TEXT   NOT NULL,
    status          TEXT   NOT NULL
                           CHECK (status IN ('RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED')),
    start_time      BIGINT NOT NULL,
    end_time        BIGINT,
    lifecycle_stage TEXT   NOT NULL DEFAULT 'active'
                           CHECK (lifecycle_stage IN ('active', 'deleted')),
    artifact_uri    TEXT   NOT NULL,
    user_id         TEXT   NOT NULL,
    host            TEXT   NOT NULL,
    versa_version   TEXT   NOT NULL
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);

-- Params are immutable once logged (MLflow semantics); the key is unique per run.
CREATE TABLE params (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);

-- Full metric history. A NaN is kept as value 0 with is_nan = TRUE (as
-- MLflow does, and as SQLite needs); +-infinity are stored as is.
-- Logging an identical point twice keeps one row (the key covers every column).
CREATE TABLE metrics (
    run_id    TEXT             NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    key       TEXT             NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    timestamp BIGINT           NOT NULL,
    step      BIGINT           NOT NULL,
    is_nan    BOOLEAN          NOT NULL,
    PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
);

-- The newest point per (run, key), by (step, timestamp): what run listings show.
CREATE TABLE latest_metrics (
    run_id    TEXT             NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    key       TEXT             NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    timestamp BIGINT           NOT NULL,
    step      BIGINT           NOT NULL,
    is_nan    BOOLEAN          NOT NULL,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE run_tags (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);

-- Dataset versions. The same content under the same name is one version
-- (unique (name, content_digest)); versions count 1, 2, 3... per name.
CREATE TABLE datasets (
    name            TEXT   NOT NULL,
    version         BIGINT NOT NULL CHECK (version >= 1),
    content_digest  TEXT   NOT NULL,
    manifest_digest TEXT   NOT NULL,
    n_rows          BIGINT NOT NULL,
    n_columns       BIGINT NOT NULL,
    source_path     TEXT   NOT NULL,
    size_bytes      BIGINT NOT NULL,
    source_format   TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (name, version),
    UNIQUE (name, content_digest)
);
CREATE INDEX datasets_by_content ON datasets (content_digest);

-- Fitted preprocessing, identified by the digest of its spec blob.
CREATE TABLE transforms (
    digest         TEXT   NOT NULL PRIMARY KEY,
    dataset_digest TEXT   NOT NULL,
    spec_json      TEXT   NOT NULL,
    created_at     BIGINT NOT NULL
);

-- MLflow registered models.
CREATE TABLE registered_models (
    name        TEXT   NOT NULL PRIMARY KEY,
    description TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE registered_model_tags (
    name  TEXT NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);

-- Immutable model versions. Digests point at blobs that exist before the row
-- is written (the writer stores blobs first, then registers).
CREATE TABLE model_versions (
    name             TEXT   NOT NULL REFERENCES registered_models (name),
    version          BIGINT NOT NULL CHECK (version >= 1),
    run_id           TEXT            REFERENCES runs (run_id),
    manifest_digest  TEXT   NOT NULL,
    weights_digest   TEXT   NOT NULL,
    transform_digest TEXT,
    dataset_digest   TEXT,
    status           TEXT   NOT NULL DEFAULT 'READY'
                            CHECK (status IN ('PENDING_REGISTRATION', 'FAILED_REGISTRATION', 'READY')),
    description      TEXT,
    source           TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_by_run ON model_versions (run_id);

CREATE TABLE model_version_tags (
    name    TEXT   NOT NULL,
    version BIGINT NOT NULL,
    key     TEXT   NOT NULL,
    value   TEXT   NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE
);

-- Test-set metrics recorded with a version (NaN kept as in `metrics`).
CREATE TABLE model_version_metrics (
    name    TEXT             NOT NULL,
    version BIGINT           NOT NULL,
    key     TEXT             NOT NULL,
    value   DOUBLE PRECISION NOT NULL,
    is_nan  BOOLEAN          NOT NULL,
    PRIMARY KEY (name, version, key),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE
);

-- Movable pointers (`churn@production`); an alias always names an existing version.
CREATE TABLE aliases (
    name    TEXT   NOT NULL,
    alias   TEXT   NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
);

-- Every alias move, for audit and rollback. from_version is NULL when the
-- alias was created, to_version NULL when it was deleted. `id` orders events.
CREATE TABLE alias_history (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT    NOT NULL,
    alias        TEXT    NOT NULL,
    from_version BIGINT,
    to_version   BIGINT,
    changed_at   BIGINT  NOT NULL,
    actor        TEXT    NOT NULL
);
CREATE INDEX alias_history_by_alias ON alias_history (name, alias, id);

-- Provenance graph. Kinds: 'model_version' (id `name/version`), 'run'
-- (run id), 'transform' (digest), 'dataset' (content digest).
CREATE TABLE lineage_edges (
    from_kind TEXT NOT NULL,
    from_id   TEXT NOT NULL,
    to_kind   TEXT NOT NULL,
    to_id     TEXT NOT NULL,
    relation  TEXT NOT NULL,
    PRIMARY KEY (from_kind, from_id, to_kind, to_id, relation)
);
CREATE INDEX lineage_edges_to ON lineage_edges (to_kind, to_id);
