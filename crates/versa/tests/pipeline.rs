//! End to end through the built binary: `versa init --example churn` then
//! `versa run` in a temp dir — a re-run with nothing changed skips every
//! stage and creates no version, `-S v2.epochs=3` retrains only v2, a changed
//! data file re-runs everything downstream (and deploy refuses to compare
//! across splits), `versa status` says why, `versa repro` retrains a version
//! to byte-identical weights, and bad specs are refused with their line and
//! column.

use std::path::Path;
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

fn versa(dir: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("versa")
        .expect("the versa binary is built")
        .env_remove("VERSA_WORKSPACE")
        .env_remove("VERSA_CATALOG")
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("versa runs")
}

fn json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let output = versa(dir, &all);
    assert!(
        output.status.success(),
        "versa {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

fn cached(report: &Value) -> Vec<(String, bool)> {
    report["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name").to_string(),
                s["cached"].as_bool().expect("cached"),
            )
        })
        .collect()
}

fn stages(pairs: &[(&str, bool)]) -> Vec<(String, bool)> {
    pairs.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

fn init(dir: &Path) {
    let output = versa(dir, &["init", "--example", "churn"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn only_stages_whose_inputs_changed_run_again() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path();
    init(dir);

    let first = json(dir, &["run"]);
    assert!(cached(&first).iter().all(|(_, c)| !c), "{first}");
    assert_eq!(first["created_versions"], serde_json::json!([1, 2]));
    assert_eq!(first["deployment"]["decision"], "moved");
    assert_eq!(first["deployment"]["target_after"], 2);

    let second = json(dir, &["run"]);
    assert!(cached(&second).iter().all(|(_, c)| *c), "{second}");
    assert_eq!(second["created_versions"], serde_json::json!([]));
    for version in ["1", "2"] {
        let repro = json(dir, &["repro", "churn", version]);
        assert_eq!(repro["matches"], true, "{repro}");
        assert_eq!(repro["reproduced_weights"], repro["recorded_weights"]);
    }

    // Rewording a description is not a training change.
    let spec_path = dir.join("versa.toml");
    let spec = std::fs::read_to_string(&spec_path).expect("read spec");
    let reworded = spec.replace(
        "description = \"baseline: one narrow hidden layer\"",
        "description = \"the baseline, reworded\"",
    );
    assert_ne!(reworded, spec, "the example names v1's description");
    std::fs::write(&spec_path, reworded).expect("write spec");
    let reworded_run = json(dir, &["run"]);
    assert!(
        cached(&reworded_run).iter().all(|(_, c)| *c),
        "{reworded_run}"
    );
    assert_eq!(reworded_run["created_versions"], serde_json::json!([]));

    let override_run = json(dir, &["run", "-S", "v2.epochs=3"]);
    assert_eq!(
        cached(&override_run),
        stages(&[
            ("data", true),
            ("prepare", true),
            ("train.v1", true),
            ("train.v2", false),
            ("evaluate", false),
            ("deploy", false),
        ])
    );
    assert_eq!(override_run["created_versions"], serde_json::json!([3]));
    // Three epochs of v2 do not beat the fully trained v2 in production.
    assert_eq!(override_run["deployment"]["decision"], "kept");

    // Drop the last customer: the data file changes, so does everything after it.
    let data = dir.join("data/customers.csv");
    let text = std::fs::read_to_string(&data).expect("read data");
    let trimmed: Vec<&str> = text.lines().collect();
    std::fs::write(&data, trimmed[..trimmed.len() - 1].join("\n") + "\n").expect("write data");
    let status = json(dir, &["status"]);
    assert_eq!(status[0]["fresh"], false, "{status}");
    assert!(
        status[0]["reason"].as_str().unwrap().contains("data file"),
        "{status}"
    );
    assert!(
        status[1]["reason"]
            .as_str()
            .unwrap()
            .contains("upstream stale (data)"),
        "{status}"
    );

    let changed = json(dir, &["run"]);
    assert!(cached(&changed).iter().all(|(_, c)| !c), "{changed}");
    assert_eq!(changed["created_versions"], serde_json::json!([4, 5]));
    assert_eq!(changed["deployment"]["decision"], "refused", "{changed}");
    assert!(
        changed["deployment"]["reason"]
            .as_str()
            .unwrap()
            .contains("not comparable"),
        "{changed}"
    );
    let status = json(dir, &["status"]);
    assert!(
        status
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["fresh"] == true),
        "{status}"
    );
}

#[test]
fn bad_specs_are_refused_with_line_and_column() {
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = temp.path();
    init(dir);
    let spec = dir.join("versa.toml");
    let original = std::fs::read_to_string(&spec).expect("read spec");
    let cases = [
        (
            original.replace("epochs = 5\n", "epoch = 5\n"),
            "unknown key `epoch`; did you mean `epochs`?",
        ),
        (
            original.replace("epochs = 5\n", "epochs = \"five\"\n"),
            "invalid type",
        ),
        (
            original.replace("metric = \"accuracy\"", "metric = \"recall\""),
            "[deploy] metric `recall` is not among [evaluate] metrics",
        ),
        (
            original.replace(
                "min_improvement = 0.0",
                "min_improvement = 0.0\ncandidates = [\"v3\"]",
            ),
            "candidates names variant `v3`, which is not defined",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&spec, &text).expect("write spec");
        let output = versa(dir, &["run"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(stderr.contains("versa.toml: line "), "{stderr}");
    }
    std::fs::write(&spec, &original).expect("write spec");
    let output = versa(dir, &["run", "-S", "v2.epoch=3"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("-S v2.epoch=3: unknown key `epoch`; did you mean `epochs`?"),
        "{stderr}"
    );
    assert!(!dir.join(".versa/stages").exists(), "nothing ran");
}
