//! End to end: the built `versa` binary runs the whole scenario in a temp
//! dir (`versa init --example churn` + `versa run` in one step), and
//! `versa serve` on the resulting workspace answers the same prediction
//! afterwards. Only loopback networking is used.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

fn versa() -> Command {
    let mut command = Command::cargo_bin("versa").expect("the versa binary is built");
    command.env_remove("VERSA_WORKSPACE").env("NO_COLOR", "1");
    command
}

fn quickstart(dir: &Path, seed: u64) -> Value {
    let output = versa()
        .args(["quickstart", "--json", "--seed", &seed.to_string(), "--dir"])
        .arg(dir)
        .output()
        .expect("versa runs");
    assert!(
        output.status.success(),
        "quickstart failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

fn digests(report: &Value) -> Vec<String> {
    let run = &report["run"];
    let mut out = vec![
        run["data"]["content_digest"].to_string(),
        run["prepare"]["transform_digest"].to_string(),
        run["prepare"]["split_digest"].to_string(),
    ];
    for version in run["variants"].as_array().unwrap() {
        out.push(version["weights_digest"].to_string());
    }
    out
}

fn test_metrics(report: &Value) -> Vec<String> {
    report["run"]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["metrics"].to_string())
        .collect()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_runs_the_whole_scenario_and_serve_answers_the_same() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("qs");
    let report = quickstart(&dir, 42);

    // The scenario's seven stages, each with its shapes and the pipeline
    // stage it comes from.
    let shape = |rows: u64, columns: u64| serde_json::json!({"rows": rows, "columns": columns});
    let seven = report["stages"].as_array().unwrap();
    let names: Vec<&str> = seven.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Data Collection",
            "Data Preprocessing",
            "Feature Engineering",
            "Model Training v1",
            "Model Training v2",
            "Model Evaluation",
            "Model Deployment"
        ]
    );
    let from: Vec<&str> = seven
        .iter()
        .map(|s| s["pipeline_stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        from,
        [
            "data", "prepare", "prepare", "train.v1", "train.v2", "evaluate", "deploy"
        ]
    );
    assert_eq!(seven[0]["output_shape"], shape(1000, 10));
    assert_eq!(seven[1]["output_shape"], shape(1000, 10));
    assert_eq!(seven[2]["input_shape"], shape(1000, 10));
    assert_eq!(seven[2]["output_shape"], shape(1000, 12));
    assert_eq!(seven[3]["input_shape"], shape(800, 12));
    assert_eq!(seven[5]["input_shape"], shape(200, 12));
    assert!(
        seven[6]["output"]
            .as_str()
            .unwrap()
            .contains("answered by churn v2"),
        "{}",
        seven[6]
    );

    // The pipeline's own stages, with shapes: 1000 × 10 raw, 12 columns after
    // feature engineering, 200 test rows.
    let run = &report["run"];
    let stages = run["stages"].as_array().unwrap();
    let names: Vec<&str> = stages.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "data", "prepare", "train.v1", "train.v2", "evaluate", "deploy"
        ]
    );
    assert_eq!(stages[0]["output_shape"], shape(1000, 10));
    assert_eq!(stages[1]["input_shape"], shape(1000, 10));
    assert_eq!(stages[1]["output_shape"], shape(1000, 12));
    assert_eq!(stages[4]["input_shape"], shape(200, 12));
    for stage in stages {
        assert_eq!(stage["cached"], false, "a fresh directory caches nothing");
        assert!(stage["duration_ms"].as_f64().unwrap() >= 0.0);
    }

    // The dataset and split.
    assert_eq!(run["data"]["n_rows"], 1000);
    assert_eq!(run["data"]["n_columns"], 11);
    assert_eq!(run["prepare"]["test"], 200);
    assert_eq!(run["prepare"]["n_engineered_columns"], 12);
    assert_eq!(run["evaluation"]["test_rows"], 200);

    // Both versions, with their traces and test metrics; v2 beats v1 and is deployed.
    let variants = run["variants"].as_array().unwrap();
    let traces = report["versions"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(traces.len(), 2);
    for (i, (v, trace)) in variants.iter().zip(traces).enumerate() {
        assert_eq!(v["version"], (i + 1) as u64);
        assert_eq!(trace["version"], v["version"]);
        let epochs = trace["epochs"].as_array().unwrap();
        assert_eq!(Some(epochs.len() as u64), v["epochs"].as_u64());
        assert_eq!(epochs[0]["epoch"], 1);
        for key in ["train_loss", "train_accuracy", "val_loss", "val_accuracy"] {
            assert!(epochs[0][key].as_f64().is_some(), "epoch lacks {key}");
        }
        let m = &v["metrics"];
        for key in [
            "accuracy",
            "precision",
            "recall",
            "f1",
            "roc_auc",
            "log_loss",
        ] {
            assert!(m[key].as_f64().is_some(), "test metrics lack {key}: {m}");
        }
    }
    let accuracy = |i: usize| variants[i]["metrics"]["accuracy"].as_f64().unwrap();
    assert!(
        accuracy(1) > accuracy(0),
        "v2 ({}) should beat v1 ({})",
        accuracy(1),
        accuracy(0)
    );
    assert_eq!(run["deployment"]["alias"], "production");
    assert_eq!(run["deployment"]["decision"], "moved");
    assert_eq!(run["deployment"]["target_after"], 2);

    // The directory is an ordinary pipeline: `versa run` there caches everything.
    let rerun = versa()
        .args(["run", "--json", "--workspace"])
        .arg(&dir)
        .output()
        .expect("versa runs");
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let rerun: Value = serde_json::from_slice(&rerun.stdout).expect("one JSON document");
    assert!(
        rerun["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["cached"] == true),
        "{rerun}"
    );
    assert_eq!(rerun["created_versions"], serde_json::json!([]));

    // The served prediction names the deployed version.
    let prediction = &report["prediction"];
    assert_eq!(prediction["status"], 200);
    assert_eq!(prediction["response"]["version"], 2);
    assert_eq!(prediction["response"]["model"], "churn");
    let probabilities = prediction["response"]["predictions"][0]["probabilities"]
        .as_object()
        .unwrap();
    let total: f64 = probabilities.values().map(|p| p.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-4, "{probabilities:?}");

    // After the quickstart exits, `versa serve` answers the same request the same way.
    let mut child = versa()
        .args(["serve", "--json", "--addr", "127.0.0.1:0", "--workspace"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let listening: Value = serde_json::from_str(&line).expect("serve prints its address");
    let addr = listening["addr"].as_str().unwrap();
    let response: Value = reqwest::Client::new()
        .post(format!("http://{addr}/v1/models/churn@production/predict"))
        .json(&prediction["request"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response, prediction["response"]);
    drop(server);
}

#[test]
fn same_seed_is_identical_and_another_seed_differs() {
    let temp = tempfile::tempdir().unwrap();
    let a = quickstart(&temp.path().join("a"), 42);
    let b = quickstart(&temp.path().join("b"), 42);
    assert_eq!(digests(&a), digests(&b));
    assert_eq!(test_metrics(&a), test_metrics(&b));
    let c = quickstart(&temp.path().join("c"), 7);
    let (da, dc) = (digests(&a), digests(&c));
    for (x, y) in da.iter().zip(&dc) {
        assert_ne!(x, y, "a digest did not change with the seed");
    }
    assert_ne!(test_metrics(&a), test_metrics(&c));
}

#[test]
fn refuses_to_clobber_a_non_empty_directory() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("thesis.txt"), "precious").unwrap();
    let output = versa()
        .args(["quickstart", "--dir"])
        .arg(temp.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not empty and not a versa workspace"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(temp.path().join("thesis.txt")).unwrap(),
        "precious"
    );
}

#[test]
fn commands_outside_a_workspace_say_how_to_get_one() {
    let temp = tempfile::tempdir().unwrap();
    let output = versa()
        .current_dir(temp.path())
        .args(["models", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no versa workspace"), "{stderr}");
    assert!(stderr.contains("versa quickstart"), "{stderr}");
}

#[test]
fn catalog_flag_and_workspace_config_choose_the_catalog() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("ws");
    quickstart(&dir, 42);
    let models = |extra: &[&str]| -> Value {
        let output = versa()
            .args(["models", "list", "--json", "--workspace"])
            .arg(&dir)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };
    assert_eq!(models(&[])["models"].as_array().unwrap().len(), 1);
    // Another catalog (here a second SQLite file) holds no models yet.
    let other = temp.path().join("other.db");
    let other = other.to_str().unwrap();
    assert_eq!(
        models(&["--catalog", other])["models"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The same choice made in the workspace's config.
    std::fs::write(
        dir.join(".versa/config.toml"),
        format!("catalog = \"{other}\"\n"),
    )
    .unwrap();
    assert_eq!(models(&[])["models"].as_array().unwrap().len(), 0);
    std::fs::write(dir.join(".versa/config.toml"), "catalogue = 1\n").unwrap();
    let output = versa()
        .args(["models", "list", "--workspace"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("accepted key is `catalog"));
}
