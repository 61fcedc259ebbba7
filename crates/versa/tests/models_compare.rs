//! `versa models compare`, `models versions`, `runs list --model` and
//! `runs compare`, driven through the built binary on one quickstart
//! workspace. These tests only read the workspace, so they can share it.
//!
//! The human output of `models compare` is snapshotted with insta; run ids
//! (random per run) are masked with same-width placeholders so tables keep
//! their alignment. Nothing else in that output depends on the clock.

mod common;

use std::path::Path;

use common::{failure_of, json_of, stdout_of, workspace};
use serde_json::Value;

fn fixture() -> &'static Path {
    workspace("models_compare")
}

/// `(version, run id)` of every version, from `models versions --json`.
fn run_ids(dir: &Path) -> Vec<(u64, String)> {
    let versions = json_of(dir, &["models", "versions", "churn"]);
    versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["run_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Replaces each run id with a placeholder of the same width.
fn mask_run_ids(dir: &Path, text: &str) -> String {
    let mut masked = text.to_string();
    for (version, run_id) in run_ids(dir) {
        let placeholder = format!(
            "{:_<width$}",
            format!("RUN_OF_V{version}"),
            width = run_id.len()
        );
        masked = masked.replace(&run_id, &placeholder);
    }
    masked
}

#[test]
fn compare_output_is_stable() {
    let dir = fixture();
    let output = stdout_of(dir, &["models", "compare", "churn", "1", "2"]);
    insta::assert_snapshot!("compare_churn_v1_v2", mask_run_ids(dir, &output));
}

#[test]
fn compare_against_the_better_version_marks_regressions() {
    // With v2 as the baseline, every test metric of v1 is worse, including
    // log loss, which is worse because it is higher.
    let dir = fixture();
    let output = stdout_of(dir, &["models", "compare", "churn", "production", "v1"]);
    insta::assert_snapshot!("compare_churn_production_v1", mask_run_ids(dir, &output));
}

#[test]
fn compare_json_has_metrics_params_and_curves() {
    let dir = fixture();
    let report = json_of(dir, &["models", "compare", "churn", "1", "2"]);
    assert_eq!(report["baseline"], 1);
    let metrics = report["metrics"].as_array().unwrap();
    let keys: Vec<&str> = metrics.iter().map(|m| m["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "accuracy",
            "precision",
            "recall",
            "f1",
            "roc_auc",
            "log_loss"
        ]
    );
    let log_loss = &metrics[5];
    assert_eq!(log_loss["goal"], "lower");
    assert!(log_loss["deltas"][1].as_f64().unwrap() < 0.0);
    assert_eq!(
        log_loss["verdicts"],
        serde_json::json!(["baseline", "better"])
    );
    let params: Vec<&str> = report["differing_params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert!(
        params.contains(&"hidden") && params.contains(&"epochs"),
        "{params:?}"
    );
    // Shared inputs are the same for both versions, so they are not listed.
    for same in ["seed", "dataset_digest", "transform_digest", "split_digest"] {
        assert!(!params.contains(&same), "{same} listed in {params:?}");
    }
    for curve in ["loss", "accuracy"] {
        let series = report["curves"][curve]["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        for (s, version) in series
            .iter()
            .zip(&report["versions"].as_array().unwrap()[..])
        {
            assert_eq!(
                s["points"].as_array().unwrap().len() as u64,
                version["epochs"].as_u64().unwrap()
            );
        }
    }
}

#[test]
fn plot_is_well_formed_svg_with_one_polyline_per_version_per_panel() {
    let dir = fixture();
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("compare & plot.svg");
    let report = json_of(
        dir,
        &[
            "models",
            "compare",
            "churn",
            "1",
            "2",
            "--plot",
            path.to_str().unwrap(),
        ],
    );
    let epochs: Vec<usize> = report["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["epochs"].as_u64().unwrap() as usize)
        .collect();
    let text = std::fs::read_to_string(&path).unwrap();
    let document = roxmltree::Document::parse(&text).expect("the plot is well-formed XML");
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    for panel_id in ["panel-loss", "panel-accuracy"] {
        let panel = root
            .descendants()
            .find(|n| n.attribute("id") == Some(panel_id))
            .unwrap_or_else(|| panic!("no {panel_id}"));
        let polylines: Vec<_> = panel
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .collect();
        let series: Vec<&str> = polylines
            .iter()
            .map(|p| p.attribute("data-series").unwrap())
            .collect();
        assert_eq!(series, ["v1", "v2"], "{panel_id}");
        for (polyline, n_epochs) in polylines.iter().zip(&epochs) {
            let points = polyline
                .attribute("points")
                .unwrap()
                .split_whitespace()
                .count();
            assert_eq!(points, *n_epochs, "{panel_id}");
        }
        // A legend entry names each version, and the axes have tick labels.
        let texts: Vec<&str> = panel
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        assert!(texts.contains(&"v1") && texts.contains(&"v2"), "{texts:?}");
        assert!(texts.contains(&"epoch"), "{texts:?}");
        assert!(texts.len() > 10, "too few labels: {texts:?}");
    }
}

#[test]
fn compare_refuses_a_version_named_twice_and_unknown_versions() {
    let dir = fixture();
    let stderr = failure_of(dir, &["models", "compare", "churn", "2", "production"]);
    assert!(
        stderr.contains("v2") && stderr.contains("named twice"),
        "{stderr}"
    );
    let stderr = failure_of(dir, &["models", "compare", "churn", "1", "9"]);
    assert!(
        stderr.contains("churn/9") && stderr.contains("1, 2"),
        "{stderr}"
    );
}

#[test]
fn versions_lists_every_version_with_aliases() {
    let dir = fixture();
    let output = stdout_of(dir, &["models", "versions", "churn"]);
    assert!(output.contains("model churn: 2 version(s)"), "{output}");
    let v2_line = output.lines().find(|l| l.contains(" v2 ")).unwrap();
    assert!(
        v2_line.contains("production") && v2_line.contains("READY"),
        "{output}"
    );
}

#[test]
fn runs_list_filters_by_model() {
    let dir = fixture();
    let all = json_of(dir, &["runs", "list"]);
    let of_churn = json_of(dir, &["runs", "list", "--model", "churn"]);
    assert_eq!(of_churn["runs"].as_array().unwrap().len(), 2);
    assert_eq!(all["runs"], of_churn["runs"]);
    let stderr = failure_of(dir, &["runs", "list", "--model", "nope"]);
    assert!(stderr.contains("`nope` not found"), "{stderr}");
}

#[test]
fn runs_compare_shows_differing_params_and_final_metrics() {
    let dir = fixture();
    let ids = run_ids(dir);
    let (first, second) = (ids[0].1.as_str(), ids[1].1.as_str());
    let output = stdout_of(dir, &["runs", "compare", first, second]);
    let hidden = output.lines().find(|l| l.contains("hidden")).unwrap();
    assert!(
        hidden.contains(" 8 ") && hidden.contains("64,32"),
        "{output}"
    );
    assert!(
        !output.contains("│ seed"),
        "identical params are not listed: {output}"
    );
    let loss = output
        .lines()
        .find(|l| l.contains("test_log_loss"))
        .unwrap();
    assert!(
        loss.contains("lower is better") && loss.contains('↑'),
        "{output}"
    );

    let report: Value = json_of(dir, &["runs", "compare", first, second]);
    let metrics = report["metrics"].as_array().unwrap();
    let accuracy = metrics
        .iter()
        .find(|m| m["key"] == "test_accuracy")
        .unwrap();
    assert_eq!(
        accuracy["verdicts"],
        serde_json::json!(["baseline", "better"])
    );
    let stderr = failure_of(dir, &["runs", "compare", first, first]);
    assert!(stderr.contains("named twice"), "{stderr}");
}
