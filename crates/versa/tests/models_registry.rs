//! Moving aliases (`models promote`, `rollback`, `alias-history`), tags, descriptions and
//! `versa lineage`, driven through the built binary on one quickstart
//! workspace. Tests that move aliases each use their own alias, so they can
//! run in parallel on the shared workspace; `production` is left as the
//! quickstart set it (v2), which the lineage tests rely on.

mod common;

use std::path::Path;

use common::{failure_of, json_of, stdout_of, workspace};
use serde_json::Value;

fn fixture() -> &'static Path {
    workspace("models_registry")
}

fn version(dir: &Path, number: u64) -> Value {
    let versions = json_of(dir, &["models", "versions", "churn"]);
    versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == number)
        .cloned()
        .unwrap()
}

fn history(dir: &Path, alias: &str) -> Vec<(Value, Value, String)> {
    let report = json_of(dir, &["models", "alias-history", "churn", alias]);
    report["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from_version"].clone(),
                e["to_version"].clone(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn promote_rollback_and_history_round_trip() {
    let dir = fixture();
    let actor = ["--actor", "tester"];
    let created = json_of(
        dir,
        &[
            &["models", "promote", "churn", "1", "--alias", "staging"][..],
            &actor,
        ]
        .concat(),
    );
    assert_eq!(created["from"], Value::Null);
    assert_eq!(created["to"], 1);
    let moved = stdout_of(
        dir,
        &[
            &["models", "promote", "churn", "v2", "--alias", "staging"][..],
            &actor,
        ]
        .concat(),
    );
    assert_eq!(moved.trim(), "churn@staging: v1 → v2");
    let again = stdout_of(
        dir,
        &["models", "promote", "churn", "2", "--alias", "staging"],
    );
    assert!(again.contains("already points at v2"), "{again}");

    let back = stdout_of(
        dir,
        &[
            &["models", "rollback", "churn", "--alias", "staging"][..],
            &actor,
        ]
        .concat(),
    );
    assert_eq!(back.trim(), "churn@staging: v2 → v1");
    let lineage = json_of(dir, &["lineage", "churn@staging"]);
    assert_eq!(lineage["version"]["version"], 1);

    let events = history(dir, "staging");
    let expected = [
        (Value::Null, Value::from(1), "tester"),
        (Value::from(1), Value::from(2), "tester"),
        (Value::from(2), Value::from(1), "tester"),
    ];
    assert_eq!(events.len(), expected.len(), "{events:?}");
    for (event, (from, to, who)) in events.iter().zip(&expected) {
        assert_eq!((&event.0, &event.1, event.2.as_str()), (from, to, *who));
    }
    let table = stdout_of(dir, &["models", "alias-history", "churn", "staging"]);
    assert!(table.contains("3 change(s), now v1"), "{table}");
    assert!(
        table.contains("(created)") && table.contains("tester"),
        "{table}"
    );

    // A second rollback undoes the first.
    let forward = stdout_of(dir, &["models", "rollback", "churn", "--alias", "staging"]);
    assert_eq!(forward.trim(), "churn@staging: v1 → v2");
}

#[test]
fn if_better_refuses_a_worse_version_naming_both_values() {
    let dir = fixture();
    stdout_of(
        dir,
        &["models", "promote", "churn", "2", "--alias", "canary"],
    );
    let v1 = version(dir, 1);
    let v2 = version(dir, 2);
    for metric in ["accuracy", "log_loss"] {
        let stderr = failure_of(
            dir,
            &[
                "models",
                "promote",
                "churn",
                "1",
                "--alias",
                "canary",
                "--if-better",
                metric,
            ],
        );
        let candidate = format!("{:.4}", v1["metrics"][metric].as_f64().unwrap());
        let incumbent = format!("{:.4}", v2["metrics"][metric].as_f64().unwrap());
        assert!(
            stderr.contains("refusing")
                && stderr.contains(&candidate)
                && stderr.contains(&incumbent),
            "{stderr}"
        );
        let direction = if metric == "log_loss" {
            "lower is better"
        } else {
            "higher is better"
        };
        assert!(stderr.contains(direction), "{stderr}");
    }
    // Refused moves leave the alias where it was and record nothing.
    assert_eq!(history(dir, "canary").len(), 1);
    assert_eq!(
        json_of(dir, &["lineage", "churn@canary"])["version"]["version"],
        2
    );

    let stderr = failure_of(
        dir,
        &[
            "models",
            "promote",
            "churn",
            "1",
            "--alias",
            "canary",
            "--if-better",
            "learning_rate",
        ],
    );
    assert!(stderr.contains("log_loss (lower is better)"), "{stderr}");
}

#[test]
fn if_better_allows_a_better_version() {
    let dir = fixture();
    stdout_of(
        dir,
        &["models", "promote", "churn", "1", "--alias", "shadow"],
    );
    let report = json_of(
        dir,
        &[
            "models",
            "promote",
            "churn",
            "2",
            "--alias",
            "shadow",
            "--if-better",
            "log_loss",
        ],
    );
    assert_eq!(
        (report["from"].clone(), report["to"].clone()),
        (Value::from(1), Value::from(2))
    );
    assert_eq!(report["check"]["goal"], "lower");
    assert!(
        report["check"]["candidate"].as_f64().unwrap()
            < report["check"]["incumbent"].as_f64().unwrap()
    );
}

#[test]
fn rollback_without_a_previous_target_says_why() {
    let dir = fixture();
    stdout_of(
        dir,
        &["models", "promote", "churn", "1", "--alias", "fresh"],
    );
    let stderr = failure_of(dir, &["models", "rollback", "churn", "--alias", "fresh"]);
    assert!(
        stderr.contains("no previous target") && stderr.contains("v1"),
        "{stderr}"
    );
    let stderr = failure_of(
        dir,
        &["models", "rollback", "churn", "--alias", "never-set"],
    );
    assert!(stderr.contains("not set"), "{stderr}");
    let stderr = failure_of(
        dir,
        &["models", "rollback", "nope", "--alias", "production"],
    );
    assert!(stderr.contains("`nope` not found"), "{stderr}");
}

#[test]
fn describe_replaces_the_description() {
    let dir = fixture();
    let report = json_of(
        dir,
        &[
            "models",
            "describe",
            "churn",
            "1",
            "the baseline we keep for reference",
        ],
    );
    assert_eq!(report["description"], "the baseline we keep for reference");
    assert_eq!(
        version(dir, 1)["description"],
        "the baseline we keep for reference"
    );
    let stderr = failure_of(dir, &["models", "describe", "churn", "9", "nothing"]);
    assert!(stderr.contains("churn/9"), "{stderr}");
}

#[test]
fn tags_are_set_and_bad_pairs_rejected() {
    let dir = fixture();
    let report = json_of(
        dir,
        &["models", "tag", "churn", "1", "stage=candidate", "note=a=b"],
    );
    assert_eq!(report["tags"]["stage"], "candidate");
    assert_eq!(report["tags"]["note"], "a=b");
    assert_eq!(version(dir, 1)["tags"]["stage"], "candidate");
    let stderr = failure_of(dir, &["models", "tag", "churn", "1", "no-equals-sign"]);
    assert!(stderr.contains("KEY=VALUE"), "{stderr}");
    let stderr = failure_of(dir, &["models", "tag", "churn", "7", "a=b"]);
    assert!(stderr.contains("churn/7"), "{stderr}");
}

#[test]
fn lineage_tree_runs_from_alias_to_dataset() {
    let dir = fixture();
    let tree = stdout_of(dir, &["lineage", "churn@production"]);
    let v2 = version(dir, 2);
    let lines: Vec<&str> = tree.lines().collect();
    assert_eq!(lines[0], "alias churn@production → v2");
    assert_eq!(lines[1], "└── model version churn v2 · READY");
    let position = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("`{needle}` missing from\n{tree}"))
    };
    let weights = position(v2["weights_digest"].as_str().unwrap());
    position(v2["manifest_digest"].as_str().unwrap());
    let run = position(&format!("run {}", v2["run_id"].as_str().unwrap()));
    position("hidden = 64,32");
    let transform = position(&format!(
        "transform {}",
        v2["transform_digest"].as_str().unwrap()
    ));
    position("derived debt_ratio = debt / (income + 1)");
    position("derived charges_per_tenure = monthly_charges / (tenure_months + 1)");
    let dataset = position(&format!(
        "dataset customers v1 · {}",
        v2["dataset_digest"].as_str().unwrap()
    ));
    position("customers.csv (csv, ");
    position("1000 rows × 11 columns");
    assert!(
        weights < run && run < transform && transform < dataset,
        "{tree}"
    );
    // Each level is indented one step deeper than the one above it.
    let depth = |line: usize| lines[line].find(['├', '└']).unwrap();
    assert!(
        depth(run) < depth(transform) && depth(transform) < depth(dataset),
        "{tree}"
    );

    let by_number = stdout_of(dir, &["lineage", "churn/1"]);
    assert!(
        by_number.starts_with("model version churn v1 · READY\n"),
        "{by_number}"
    );
}

#[test]
fn lineage_json_nests_the_same_chain() {
    let dir = fixture();
    let doc = json_of(dir, &["lineage", "churn@production"]);
    assert_eq!(doc["reference"], "churn@production");
    assert_eq!(doc["alias"], "production");
    let version = &doc["version"];
    assert_eq!(version["version"], 2);
    let run = &version["run"];
    assert_eq!(run["status"], "FINISHED");
    assert_eq!(run["params"]["variant"], "v2");
    let transform = &run["transform"];
    let features: Vec<&str> = transform["derived_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(features, ["debt_ratio", "charges_per_tenure"]);
    let dataset = &transform["dataset"];
    assert_eq!(
        (dataset["name"].as_str(), dataset["version"].as_u64()),
        (Some("customers"), Some(1))
    );
    assert_eq!(
        (dataset["n_rows"].as_u64(), dataset["n_columns"].as_u64()),
        (Some(1000), Some(11))
    );
    assert_eq!(dataset["content_digest"], version_digest(dir));

    let stderr = failure_of(dir, &["lineage", "churn@missing"]);
    assert!(
        stderr.contains("churn@missing") && stderr.contains("production"),
        "{stderr}"
    );
}

fn version_digest(dir: &Path) -> Value {
    version(dir, 2)["dataset_digest"].clone()
}
