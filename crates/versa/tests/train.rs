//! End to end through the built binary: `versa train` adds model versions to a
//! workspace that `versa quickstart` created (which registers dataset
//! `customers`), refuses bad input with clear messages, and
//! `versa predict --trace` explains one row layer by layer, agreeing with
//! plain `versa predict`.

use std::path::Path;
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

fn versa(workspace: &Path) -> Command {
    let mut command = Command::cargo_bin("versa").expect("the versa binary is built");
    command
        .env_remove("VERSA_WORKSPACE")
        .env("NO_COLOR", "1")
        .arg("--workspace")
        .arg(workspace);
    command
}

fn run(workspace: &Path, args: &[&str]) -> Output {
    versa(workspace).args(args).output().expect("versa runs")
}

fn json(workspace: &Path, args: &[&str]) -> Value {
    let output = run(workspace, args);
    assert!(
        output.status.success(),
        "versa {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

/// A workspace with dataset `customers` v1 (1000 rows), made by the quickstart.
fn workspace_with_customers(temp: &tempfile::TempDir) -> std::path::PathBuf {
    let dir = temp.path().join("ws");
    let output = Command::cargo_bin("versa")
        .unwrap()
        .env_remove("VERSA_WORKSPACE")
        .args(["quickstart", "--json", "--dir"])
        .arg(&dir)
        .output()
        .expect("versa runs");
    assert!(
        output.status.success(),
        "quickstart failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

/// Exit code 1 (the command failed) with every `expected` piece in the message.
fn fails_with(output: &Output, code: i32, expected: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "stdout should be empty on failure"
    );
    for piece in expected {
        assert!(stderr.contains(piece), "{piece:?} not in {stderr}");
    }
}

const TRAIN: [&str; 12] = [
    "train",
    "--data",
    "customers",
    "--label",
    "churned",
    "--model",
    "churn2",
    "--hidden",
    "16,8",
    "--epochs",
    "6",
    "--json",
];

#[test]
fn train_adds_reproducible_versions_and_trace_agrees_with_predict() {
    let temp = tempfile::tempdir().unwrap();
    let ws = workspace_with_customers(&temp);

    let mut args = TRAIN.to_vec();
    args.extend(["--seed", "7", "--lr", "0.003"]);
    let first = json(&ws, &args);
    assert_eq!(first["model"], "churn2");
    assert_eq!(first["version"], 1);
    assert_eq!(first["dataset"]["name"], "customers");
    assert_eq!(first["dataset"]["version"], 1);
    assert_eq!(first["dataset"]["n_rows"], 1000);
    assert_eq!(first["split"]["train"], 600);
    assert_eq!(first["split"]["validation"], 200);
    assert_eq!(first["split"]["test"], 200);
    assert_eq!(first["classes"], serde_json::json!(["no", "yes"]));
    assert_eq!(first["params"]["hidden"], "16,8");
    assert_eq!(first["params"]["learning_rate"], "0.003");
    assert_eq!(first["params"]["seed"], "7");
    assert_eq!(first["epochs"].as_array().unwrap().len(), 6);
    assert_eq!(first["stop_reason"], "completed all epochs");
    let n_features = first["transform"]["feature_names"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(n_features, 17, "7 numeric + 10 one-hot columns");
    let accuracy = first["test_metrics"]["accuracy"].as_f64().unwrap();
    assert!(
        accuracy > 0.7,
        "a 6-epoch MLP should beat the 62% majority class: {accuracy}"
    );

    // Same data, settings and seed: a new version with identical weights.
    let second = json(&ws, &args);
    assert_eq!(second["version"], 2);
    assert_eq!(second["weights_digest"], first["weights_digest"]);
    assert_ne!(second["run_id"], first["run_id"]);

    // The trace of row 3 is the same prediction `versa predict` gives row 3.
    let data = ws.join("data/customers.csv");
    let data = data.to_str().unwrap();
    let traced = json(
        &ws,
        &[
            "predict", "churn2/1", "--input", data, "--trace", "--row", "3", "--json",
        ],
    );
    let predicted = json(&ws, &["predict", "churn2/1", "--input", data, "--json"]);
    let plain = &predicted["predictions"][2];
    assert_eq!(traced["predicted_class"], plain["label"]);
    // Both are f32 probabilities; `predict` widens them to f64 for printing.
    for label in ["no", "yes"] {
        let from_trace = traced["probabilities"][label].as_f64().unwrap() as f32;
        let from_predict = plain["probabilities"][label].as_f64().unwrap() as f32;
        assert_eq!(from_trace, from_predict, "P({label})");
    }
    assert_eq!(traced["row"], 3);
    assert_eq!(traced["label"]["column"], "churned");
    assert!(traced["label"]["actual"].is_string());
    assert_eq!(traced["input"].as_object().unwrap().len(), 10);
    assert_eq!(traced["features"].as_array().unwrap().len(), n_features);
    let layers = traced["hidden_layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    for (layer, width) in layers.iter().zip([16, 8]) {
        assert_eq!(layer["n_units"], width);
        assert_eq!(layer["activation"], "relu");
        let values: Vec<f64> = layer["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(values.len(), width);
        let active = values.iter().filter(|v| **v > 0.0).count();
        assert_eq!(layer["n_active"], active);
        let top = layer["top_units"].as_array().unwrap();
        let largest = values.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(top[0]["value"].as_f64().unwrap(), largest);
    }
    let total: f64 = traced["probabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-5, "{total}");

    // The human trace names every step, input first, class last.
    let output = run(&ws, &["predict", "churn2/1", "--input", data, "--trace"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for step in [
        "[1/6] raw input",
        "[2/6] transformed features",
        "[3/6] hidden 1 · relu",
        "[4/6] hidden 2 · relu",
        "[5/6] softmax",
        "[6/6] predicted class",
        "contract=month-to-month",
    ] {
        assert!(text.contains(step), "{step:?} not in {text}");
    }
}

#[test]
fn a_config_file_sets_architecture_features_and_early_stopping() {
    let temp = tempfile::tempdir().unwrap();
    let ws = workspace_with_customers(&temp);
    let config = temp.path().join("train.toml");
    std::fs::write(
        &config,
        r#"
[train]
hidden = [8]
activation = "tanh"
epochs = 40
learning_rate = 0.01
patience = 2
min_delta = 0.01

[split]
validation = 0.25
test = 0.15

[preprocess]
numeric = { impute = "median" }

[features]
debt_ratio = "debt / (income + 1)"
"#,
    )
    .unwrap();
    let report = json(
        &ws,
        &[
            "train",
            "--data",
            "customers@1",
            "--label",
            "churned",
            "--model",
            "small",
            "--config",
            config.to_str().unwrap(),
            "--epochs",
            "30",
            "--json",
        ],
    );
    assert_eq!(report["params"]["hidden"], "8");
    assert_eq!(report["params"]["activation"], "tanh");
    assert_eq!(
        report["params"]["epochs"], "30",
        "the flag wins over the file"
    );
    assert_eq!(report["params"]["patience"], "2");
    assert_eq!(report["split"]["validation"], 250);
    assert_eq!(report["split"]["test"], 150);
    let names: Vec<&str> = report["transform"]["feature_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(names.contains(&"debt_ratio"), "{names:?}");
    // A min_delta of 0.01 with patience 2 cannot last 30 epochs at lr 0.01.
    assert!(
        report["stop_reason"]
            .as_str()
            .unwrap()
            .starts_with("early stopping"),
        "{}",
        report["stop_reason"]
    );
    assert!(report["epochs"].as_array().unwrap().len() < 30);

    // The human trace of a one-hidden-layer model has 5 steps.
    let data = ws.join("data/customers.csv");
    let output = run(
        &ws,
        &[
            "predict",
            "small/1",
            "--input",
            data.to_str().unwrap(),
            "--trace",
        ],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("[3/5] hidden 1 · tanh"), "{text}");
    assert!(text.contains("[5/5] predicted class"), "{text}");
}

#[test]
fn bad_input_fails_with_a_message_saying_what_would_be_accepted() {
    let temp = tempfile::tempdir().unwrap();
    let ws = workspace_with_customers(&temp);
    let base = |changes: &[(&str, &str)], extra: &[&str]| -> Output {
        let mut args: Vec<&str> = TRAIN.to_vec();
        for (flag, value) in changes {
            let at = args.iter().position(|a| a == flag).unwrap();
            args[at + 1] = value;
        }
        args.extend_from_slice(extra);
        run(&ws, &args)
    };

    fails_with(
        &base(&[("--data", "nosuch")], &[]),
        1,
        &["no dataset named `nosuch`", "customers"],
    );
    fails_with(
        &base(&[("--data", "customers@9")], &[]),
        1,
        &["customers@9", "has versions 1"],
    );
    fails_with(
        &base(&[("--label", "churn")], &[]),
        1,
        &["label `churn` is not a column", "age, income", "churned"],
    );
    fails_with(&base(&[("--hidden", "64,x")], &[]), 2, &["layer 2 is `x`"]);
    fails_with(
        &base(&[("--epochs", "many")], &[]),
        2,
        &["invalid value 'many' for '--epochs <N>'"],
    );
    fails_with(&base(&[], &["--activation", "gelu"]), 2, &["relu", "tanh"]);
    fails_with(
        &base(&[], &["--lr", "0"]),
        1,
        &["learning_rate is 0", "greater than 0"],
    );
    fails_with(
        &base(&[], &["--test-fraction", "0.9"]),
        1,
        &["leave no rows for training"],
    );
    fails_with(&base(&[("--model", "Bad Name!")], &[]), 2, &["Bad Name!"]);

    let config = temp.path().join("bad.toml");
    std::fs::write(&config, "[train]\nlearning_rat = 0.1\n").unwrap();
    fails_with(
        &base(&[], &["--config", config.to_str().unwrap()]),
        1,
        &["bad.toml", "learning_rat"],
    );
    fails_with(
        &base(&[], &["--config", "/nonexistent/train.toml"]),
        1,
        &["cannot read config `/nonexistent/train.toml`"],
    );

    let data = ws.join("data/customers.csv");
    let data = data.to_str().unwrap();
    fails_with(
        &run(&ws, &["predict", "churn/1", "--input", data, "--row", "2"]),
        2,
        &["--trace"],
    );
    fails_with(
        &run(
            &ws,
            &[
                "predict", "churn/1", "--input", data, "--trace", "--row", "0",
            ],
        ),
        1,
        &["--row 0 is out of range", "from 1 to 1000"],
    );
}
