//! A bounded load test of `versa serve` (the built binary, loopback only):
//! concurrent predictions while another process's catalog writes move the
//! `production` alias back and forth. No request may fail, and every answer
//! must name a version that the alias pointed to at that moment (allowing
//! the documented swap delay of under one second).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use serde_json::{Value, json};
use versa_catalog::{AliasExpectation, Catalog};
use versa_core::{Alias, ModelName};

/// How long a served alias may lag behind the catalog.
const SWAP_WINDOW: Duration = Duration::from_secs(1);
const CLIENTS: usize = 8;
const MOVES: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_moves_under_load_drop_no_request() {
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

    let mut child = Command::cargo_bin("versa")
        .unwrap()
        .args([
            "serve",
            "--json",
            "--addr",
            "127.0.0.1:0",
            "--models",
            "churn@production",
            "--workspace",
        ])
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
    let row = json!({"rows": [{
        "age": 41, "income": 52.5, "debt": 20.1, "tenure_months": 3, "monthly_charges": 99.5,
        "support_calls": 6, "last_login_days": 30, "contract": "month-to-month", "plan": "basic", "region": "north"
    }]});

    let start = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (url, row, done) = (url.clone(), row.clone(), done.clone());
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut answers = Vec::new();
            // Bounded: stops when the mover is done, and after at most 4000 requests.
            while !done.load(std::sync::atomic::Ordering::Relaxed) && answers.len() < 4000 {
                let sent = start.elapsed();
                let response = client.post(&url).json(&row).send().await;
                let received = start.elapsed();
                let outcome = match response {
                    Ok(r) if r.status().is_success() => {
                        Ok(r.json::<Value>().await.unwrap()["version"]
                            .as_u64()
                            .unwrap() as u32)
                    }
                    Ok(r) => Err(format!("status {}", r.status())),
                    Err(e) => Err(e.to_string()),
                };
                answers.push((sent, received, outcome));
            }
            answers
        }));
    }

    // The alias timeline: (time from which it holds, target version).
    let catalog = Catalog::open_sqlite(&dir.join(".versa/catalog.db"))
        .await
        .unwrap();
    let churn = ModelName::new("churn").unwrap();
    let production = Alias::new("production").unwrap();
    let mut timeline = vec![(Duration::ZERO, 2u32)];
    for i in 0..MOVES {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let (from, to) = if i % 2 == 0 { (2, 1) } else { (1, 2) };
        catalog
            .set_alias(
                &churn,
                &production,
                to,
                AliasExpectation::Version(from),
                "load test",
            )
            .await
            .unwrap();
        timeline.push((start.elapsed(), to));
    }
    tokio::time::sleep(SWAP_WINDOW).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);

    let mut total = 0;
    for client in clients {
        for (sent, received, outcome) in client.await.unwrap() {
            total += 1;
            let version =
                outcome.unwrap_or_else(|e| panic!("request sent at {sent:?} failed: {e}"));
            // Targets in force at any time in [sent - window, received].
            let from = sent.saturating_sub(SWAP_WINDOW);
            let allowed: Vec<u32> = timeline
                .iter()
                .enumerate()
                .filter(|(i, (at, _))| {
                    let until = timeline.get(i + 1).map_or(Duration::MAX, |next| next.0);
                    *at <= received && until >= from
                })
                .map(|(_, (_, v))| *v)
                .collect();
            assert!(
                allowed.contains(&version),
                "answer from v{version} for a request sent at {sent:?}, but the alias then pointed to {allowed:?}"
            );
        }
    }
    eprintln!("{total} requests over {MOVES} alias moves, none failed");
    assert!(total > 100, "only {total} requests were made");
    // The last move (back to v2) must be what is served at the end.
    let final_answer: Value = reqwest::Client::new()
        .post(&url)
        .json(&row)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(final_answer["version"], timeline.last().unwrap().1);
    let _ = child.kill();
    let _ = child.wait();
}
