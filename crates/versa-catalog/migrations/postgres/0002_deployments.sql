-- Canary and shadow routing of an alias, read by `versa serve` on every
-- refresh. The alias itself (table `aliases`) still names the primary
-- version; a route adds at most one canary (answers PERCENT% of the alias's
-- requests) and at most one shadow (runs on the same rows, never answers).
-- A cleared route is deleted, so a missing row means plain alias routing.
CREATE TABLE alias_routes (
    name           TEXT   NOT NULL,
    alias          TEXT   NOT NULL,
    canary_version BIGINT,
    canary_percent BIGINT CHECK (canary_percent BETWEEN 0 AND 100),
    shadow_version BIGINT,
    updated_at     BIGINT NOT NULL,
    actor          TEXT   NOT NULL,
    PRIMARY KEY (name, alias),
    CHECK ((canary_version IS NULL) = (canary_percent IS NULL)),
    FOREIGN KEY (name, canary_version) REFERENCES model_versions (name, version),
    FOREIGN KEY (name, shadow_version) REFERENCES model_versions (name, version)
);
