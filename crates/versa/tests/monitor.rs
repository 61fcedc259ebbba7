//! Canary/shadow routing and `versa monitor`, driven through the built
//! binary: quickstart → `versa deploy` (canary 50 %, shadow) → `versa serve`
//! answers requests and logs them → `versa monitor` reports per version and
//! role, with input drift vs the training data; `--clear` restores plain
//! routing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::{Value, json};

fn versa(dir: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("versa")
        .unwrap()
        .args(args)
        .arg("--workspace")
        .arg(dir)
        .output()
        .unwrap()
}

fn ok_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_shadow_and_monitor_through_the_binary() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("ws");
    let status = Command::cargo_bin("versa")
        .unwrap()
        .args(["quickstart", "--json", "--dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    // Bad specs are refused with what would be accepted.
    let refused = versa(
        &dir,
        &[
            "deploy",
            "churn",
            "--alias",
            "production",
            "--canary",
            "1:150",
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("VERSION:PERCENT"));
    let routed = ok_json(&versa(
        &dir,
        &[
            "deploy",
            "churn",
            "--alias",
            "production",
            "--canary",
            "1:50",
            "--shadow",
            "1",
            "--json",
        ],
    ));
    assert_eq!(routed["primary_version"], 2);
    assert_eq!(routed["canary"], json!({"version": 1, "percent": 50}));

    let mut child = Command::cargo_bin("versa")
        .unwrap()
        .args(["serve", "--json", "--addr", "127.0.0.1:0", "--workspace"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = serde_json::from_str::<Value>(&line).unwrap()["addr"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("http://{addr}/v1/models/churn@production/predict");
    let row = json!({
        "age": 41, "income": 52.5, "debt": 20.1, "tenure_months": 3, "monthly_charges": 99.5,
        "support_calls": 6, "last_login_days": 30, "contract": "month-to-month",
        "plan": "gold", "region": "north"
    });
    let client = reqwest::Client::new();
    let mut answered = Vec::new();
    for _ in 0..10 {
        let body: Value = client
            .post(&url)
            .json(&json!({"rows": [row.clone(), row.clone()]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answered.push(body["version"].as_u64().unwrap());
    }
    assert_eq!(
        answered.iter().filter(|v| **v == 1).count(),
        5,
        "{answered:?}"
    );

    // The writer appends in the background; wait (bounded) for all 40 rows:
    // 10 answers × 2 rows, plus the shadow's 10 × 2.
    let mut report = Value::Null;
    for _ in 0..100 {
        report = ok_json(&versa(
            &dir,
            &["monitor", "churn", "--since", "60", "--json"],
        ));
        if report["records"] == 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(report["records"], 40, "{report}");
    let summary = |version: u64, role: &str| -> Value {
        report["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["version"] == version && v["role"] == role)
            .cloned()
            .unwrap_or_else(|| panic!("no v{version} {role} in {report}"))
    };
    for (version, role, requests) in [(2, "primary", 5), (1, "canary", 5), (1, "shadow", 10)] {
        let s = summary(version, role);
        assert_eq!(s["requests"], requests, "{s}");
        assert_eq!(s["rows"], requests * 2, "{s}");
        let shares: f64 = s["label_shares"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((shares - 1.0).abs() < 1e-9, "{s}");
        assert!(s["latency_p50_us"].as_u64().unwrap() <= s["latency_p99_us"].as_u64().unwrap());
    }
    // Drift vs customers@1: every input column, the label left out; the one
    // row repeated has zero missing values, an income mean of 52.5, and a plan
    // never seen in training.
    let drift = &report["drift"][0];
    assert_eq!(drift["dataset"], "customers@1");
    assert_eq!(drift["rows"], 20);
    let columns = drift["columns"].as_array().unwrap();
    assert_eq!(columns.len(), 10, "{drift}");
    assert!(columns.iter().all(|c| c["column"] != "churned"));
    let column = |name: &str| {
        columns
            .iter()
            .find(|c| c["column"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(column("income")["observed_mean"], 52.5);
    assert_eq!(column("income")["observed_missing_rate"], 0.0);
    assert!(column("income")["mean_shift_std"].is_number());
    assert_eq!(column("plan")["new_categories"], json!(["gold"]));
    assert_eq!(column("region")["largest_share_change"][0], "north");

    // The table form names versions, roles and drift.
    let human = versa(&dir, &["monitor", "churn"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("canary") && text.contains("shadow") && text.contains("input drift"),
        "{text}"
    );

    let cleared = ok_json(&versa(
        &dir,
        &[
            "deploy",
            "churn",
            "--alias",
            "production",
            "--clear",
            "--json",
        ],
    ));
    assert_eq!(cleared["canary"], Value::Null);
    assert_eq!(cleared["shadow_version"], Value::Null);
}
