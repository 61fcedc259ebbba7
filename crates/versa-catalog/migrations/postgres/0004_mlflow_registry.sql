-- MLflow model registry, logged models and the artifact index (PostgreSQL; the
-- SQLite twin is the same text except the artifact path's collation).
--
-- Model versions come in two formats. 'versa' versions are versa's own bundles
-- (manifest + weights, servable by versa). 'mlflow' versions were registered
-- through the MLflow API: their artifacts are opaque bytes that versa stores
-- and hands back but never loads; their manifest_digest and weights_digest
-- both hold the digest of the artifact tree at registration (the listing of
-- path and blob digest, see the artifact index), so the NOT NULL columns of
-- 0001 keep meaning "the bytes this version is".
ALTER TABLE model_versions ADD COLUMN format TEXT NOT NULL DEFAULT 'versa'
    CHECK (format IN ('versa', 'mlflow'));
-- MLflow's stage (None, Staging, Production, Archived); deprecated upstream
-- but still part of the API.
ALTER TABLE model_versions ADD COLUMN current_stage TEXT NOT NULL DEFAULT 'None'
    CHECK (current_stage IN ('None', 'Staging', 'Production', 'Archived'));
-- Where the version's artifacts are (an `mlflow-artifacts:/` URI), resolved
-- from its source at registration; NULL for versa versions.
ALTER TABLE model_versions ADD COLUMN storage_location TEXT;
-- The MLflow 3 logged model (`m-<hex>`) the version was registered from.
ALTER TABLE model_versions ADD COLUMN model_id TEXT;
ALTER TABLE model_versions ADD COLUMN run_link TEXT;
-- Last change of description, stage or tags (NULL: never changed since created_at).
ALTER TABLE model_versions ADD COLUMN updated_at BIGINT;

-- Version numbers of deleted versions, so a number is never given to a
-- second, different version (servers cache loaded versions by number). Kept
-- when the registered model itself is deleted, for the same reason.
CREATE TABLE model_version_tombstones (
    name       TEXT   NOT NULL,
    version    BIGINT NOT NULL,
    deleted_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- MLflow 3 logged models: a model logged inside an experiment (usually by a
-- run), whose artifacts live under artifact_location.
CREATE TABLE logged_models (
    model_id          TEXT   NOT NULL PRIMARY KEY,
    experiment_id     TEXT   NOT NULL,
    name              TEXT   NOT NULL,
    artifact_location TEXT   NOT NULL,
    status            TEXT   NOT NULL
                             CHECK (status IN ('LOGGED_MODEL_PENDING', 'LOGGED_MODEL_READY',
                                               'LOGGED_MODEL_UPLOAD_FAILED')),
    status_message    TEXT,
    model_type        TEXT,
    source_run_id     TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, created_at);

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models (model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

-- The artifact proxy's index: one row per stored file, by its path under the
-- artifact root (`mlflow-artifacts:/<path>`), naming the blob that holds its
-- bytes. Directories are implied by paths. Paths are validated before they
-- get here: `/`-separated, no empty, `.` or `..` segments. Byte order ("C")
-- so a directory's entries sort together, as in SQLite.
CREATE TABLE artifacts (
    path       TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    digest     TEXT   NOT NULL,
    size_bytes BIGINT NOT NULL CHECK (size_bytes >= 0),
    created_at BIGINT NOT NULL
);
