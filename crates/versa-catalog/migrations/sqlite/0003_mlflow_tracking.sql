-- versa catalog schema, version 3 (SQLite): what the MLflow tracking REST API
-- needs beyond version 1.
--
-- MLflow's client logs to experiment "0" ("Default") when none is set, so it
-- must exist. Its artifacts go through the server's artifact proxy
-- (`mlflow-artifacts:/0`). Skipped when an experiment already holds the id or
-- the name (a catalog whose owner made one by hand keeps it).
INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage,
                         creation_time, last_update_time)
SELECT '0', 'Default', 'mlflow-artifacts:/0', 'active',
       CAST(strftime('%s', 'now') AS BIGINT) * 1000,
       CAST(strftime('%s', 'now') AS BIGINT) * 1000
WHERE NOT EXISTS (SELECT 1 FROM experiments WHERE experiment_id = '0' OR name = 'Default');

-- Datasets a run used (MLflow's LogInputs). One row per (run, dataset name,
-- digest): logging the same dataset again keeps the first row, as MLflow
-- does. `tags_json` is the input's tags as one JSON object (`{"mlflow.data.context":
-- "train"}`): they are only ever read and written with the input.
CREATE TABLE run_dataset_inputs (
    run_id         TEXT   NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    name           TEXT   NOT NULL,
    digest         TEXT   NOT NULL,
    source_type    TEXT   NOT NULL,
    source         TEXT   NOT NULL,
    dataset_schema TEXT,
    profile        TEXT,
    tags_json      TEXT   NOT NULL,
    logged_at      BIGINT NOT NULL,
    PRIMARY KEY (run_id, name, digest)
);

-- Run search reads params and tags by key across an experiment's runs.
CREATE INDEX params_by_key ON params (key, run_id);
CREATE INDEX run_tags_by_key ON run_tags (key, run_id);
CREATE INDEX latest_metrics_by_key ON latest_metrics (key, run_id);
