//! The catalog's guarantees across separate processes, on both backends:
//! gap-free distinct version numbers from many concurrent writers, one winner
//! per alias compare-and-swap race, readers that never see half a version,
//! and only whole versions after a writer is SIGKILLed mid-loop.
//!
//! The processes are the `catalog-stress` helper binary (src/bin), which
//! drives the catalog through its public API only.

#[macro_use]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use support::Store;
use versa_catalog::{AliasExpectation, Catalog, NewModelVersion};
use versa_core::{Alias, Digest, ModelName};

const STRESS: &str = env!("CARGO_BIN_EXE_catalog-stress");

fn stress(args: &[&str]) -> Command {
    let mut command = Command::new(STRESS);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn spawn(args: &[&str]) -> Child {
    stress(args)
        .spawn()
        .unwrap_or_else(|error| panic!("start {STRESS}: {error}"))
}

fn finish(child: Child) -> Output {
    child.wait_with_output().expect("wait for catalog-stress")
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn model(name: &str) -> ModelName {
    ModelName::new(name).unwrap()
}

/// Every version 1..=n exists, each with `n_metrics` metrics and its three
/// lineage edges; returns n.
async fn assert_only_whole_versions(catalog: &Catalog, name: &str, n_metrics: usize) -> u32 {
    let versions = catalog.list_versions(&model(name)).await.unwrap();
    let numbers: Vec<u32> = versions.iter().map(|version| version.version).collect();
    let n = u32::try_from(numbers.len()).unwrap();
    assert_eq!(numbers, (1..=n).collect::<Vec<u32>>(), "gap or duplicate");
    for version in &versions {
        assert_eq!(
            version.metrics.len(),
            n_metrics,
            "{name}/{} lacks metrics",
            version.version
        );
        let edges = catalog
            .lineage_edges(&model(name), version.version)
            .await
            .unwrap();
        let relations: Vec<&str> = edges.iter().map(|edge| edge.relation.as_str()).collect();
        assert_eq!(
            relations,
            vec!["trained_on", "produced_by", "uses_transform"],
            "{name}/{} lineage",
            version.version
        );
    }
    n
}

async fn eight_processes_register_forty_gap_free_versions(store: Store) {
    let location = store.location();
    // Nothing is opened first: the processes also race to create and migrate the catalog.
    let writers: Vec<Child> = (0..8)
        .map(|_| spawn(&["register", &location, "churn", "5", "3"]))
        .collect();
    let watcher = spawn(&["watch", &location, "churn", "40", "3"]);
    let mut reported = Vec::new();
    for writer in writers {
        let output = finish(writer);
        assert!(
            output.status.success(),
            "writer failed: {}",
            describe(&output)
        );
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let version: u32 = line
                .strip_prefix("registered ")
                .and_then(|number| number.parse().ok())
                .unwrap_or_else(|| panic!("unexpected writer output {line:?}"));
            reported.push(version);
        }
    }
    let watched = finish(watcher);
    assert!(
        watched.status.success(),
        "the reader saw a half-written version or none: {}",
        describe(&watched)
    );
    reported.sort_unstable();
    assert_eq!(reported, (1..=40).collect::<Vec<u32>>());

    let catalog = store.open().await;
    assert_eq!(assert_only_whole_versions(&catalog, "churn", 3).await, 40);
    let mut weights: Vec<Digest> = catalog
        .list_versions(&model("churn"))
        .await
        .unwrap()
        .into_iter()
        .map(|version| version.weights_digest)
        .collect();
    weights.sort();
    weights.dedup();
    assert_eq!(weights.len(), 40, "two numbers for one registration");
    // All eight processes found the one experiment the first created.
    // (Plus MLflow's Default experiment, which the schema creates.)
    assert_eq!(catalog.list_experiments().await.unwrap().len(), 2);
}

async fn two_processes_moving_one_alias_have_one_winner(store: Store) {
    let catalog = store.open().await;
    for seed in ["a", "b", "c"] {
        catalog
            .create_model_version(NewModelVersion {
                name: model("churn"),
                run_id: None,
                manifest_digest: Digest::of(format!("manifest {seed}").as_bytes()),
                weights_digest: Digest::of(format!("weights {seed}").as_bytes()),
                transform_digest: None,
                dataset_digest: None,
                description: None,
                metrics: Vec::new(),
            })
            .await
            .unwrap();
    }
    let location = store.location();
    // Several rounds, each on a fresh alias, so the race is run more than once.
    for round in 0..3 {
        let alias_name = format!("production-{round}");
        let alias = Alias::new(&alias_name).unwrap();
        catalog
            .set_alias(
                &model("churn"),
                &alias,
                1,
                AliasExpectation::Absent,
                "setup",
            )
            .await
            .unwrap();
        let signals = tempfile::tempdir().unwrap();
        let go = signals.path().join("go");
        let go_arg = go.display().to_string();
        let racers: Vec<(u32, Child)> = [(2u32, "alice"), (3u32, "bob")]
            .into_iter()
            .map(|(target, actor)| {
                let target_arg = target.to_string();
                let child = spawn(&[
                    "move-alias",
                    &location,
                    "churn",
                    &alias_name,
                    "1",
                    &target_arg,
                    actor,
                    &go_arg,
                ]);
                (target, child)
            })
            .collect();
        std::fs::write(&go, b"go").unwrap();
        let mut winners = Vec::new();
        let mut losers = Vec::new();
        for (target, child) in racers {
            let output = finish(child);
            match output.status.code() {
                Some(0) => winners.push(target),
                Some(3) => losers.push(String::from_utf8_lossy(&output.stderr).to_string()),
                _ => panic!("round {round}: racer failed: {}", describe(&output)),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(losers.len(), 1, "round {round}: losers {losers:?}");
        let expected_message = format!(
            "alias `{alias_name}` of model `churn` was expected to point at version 1, \
             but it points at version {}; another change happened first",
            winners[0]
        );
        assert!(losers[0].contains(&expected_message), "{}", losers[0]);
        let history = catalog
            .alias_history(&model("churn"), &alias)
            .await
            .unwrap();
        let moves: Vec<(Option<u32>, Option<u32>)> = history
            .iter()
            .map(|event| (event.from_version, event.to_version))
            .collect();
        assert_eq!(moves, vec![(None, Some(1)), (Some(1), Some(winners[0]))]);
    }
}

async fn a_killed_writer_leaves_only_whole_versions(store: Store) {
    // Many metrics per version keep each transaction open long enough that
    // the kill usually lands inside one.
    const METRICS: usize = 200;
    let location = store.location();
    let mut writer = spawn(&["register-forever", &location, "churn", &METRICS.to_string()]);
    let stdout = writer.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut committed = 0u32;
    while committed < 5 {
        match lines.next() {
            Some(Ok(line)) => {
                committed = line
                    .strip_prefix("registered ")
                    .and_then(|number| number.parse().ok())
                    .unwrap_or_else(|| panic!("unexpected writer output {line:?}"));
            }
            _ => {
                let output = finish(writer);
                panic!("writer stopped early: {}", describe(&output));
            }
        }
    }
    // Child::kill is SIGKILL on Unix: no destructor, no rollback by the client.
    writer.kill().unwrap();
    let status = writer.wait().unwrap();
    assert!(!status.success(), "the writer exited by itself: {status:?}");

    let catalog = store.open().await;
    let n = assert_only_whole_versions(&catalog, "churn", METRICS).await;
    assert!(
        n >= committed,
        "{committed} were reported committed, {n} exist"
    );
    // Nothing is left locked and no number was burnt: the next version is n + 1.
    let next = catalog
        .create_model_version(NewModelVersion {
            name: model("churn"),
            run_id: None,
            manifest_digest: Digest::of(b"after the crash"),
            weights_digest: Digest::of(b"after the crash"),
            transform_digest: None,
            dataset_digest: None,
            description: None,
            metrics: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(next.version, n + 1);
}

conformance!(
    eight_processes_register_forty_gap_free_versions,
    two_processes_moving_one_alias_have_one_winner,
    a_killed_writer_leaves_only_whole_versions,
);
