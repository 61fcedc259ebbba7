//! `versa data …` through the built binary in temp dirs: add → list → show →
//! add the same data again (the existing version) → add a changed file →
//! diff, in JSON and for people; bad input files, labels and schema files
//! fail with messages that say what and where; and a served row with a
//! non-numeric value in a numeric field is refused by `versa predict`.

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
    let mut all = args.to_vec();
    all.push("--json");
    let output = run(workspace, &all);
    assert!(
        output.status.success(),
        "versa {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

fn stdout(workspace: &Path, args: &[&str]) -> String {
    let output = run(workspace, args);
    assert!(
        output.status.success(),
        "versa {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs a command that must fail with exit code 1; returns its stderr.
fn failure(workspace: &Path, args: &[&str]) -> String {
    let output = run(workspace, args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "versa {args:?} should fail; stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).unwrap()
}

const V1: &str = "age,income,plan,churned\n\
                  30,1200.5,basic,no\n\
                  41,,pro,yes\n\
                  ,830.25,basic,no\n\
                  52,99.5,basic,yes\n";

const V2: &str = "age,income,plan,churned,region\n\
                  30,1200.5,basic,no,west\n\
                  41,2000,pro,yes,east\n\
                  35,830.25,,no,west\n\
                  52,99.5,team,yes,east\n\
                  60,400,team,no,west\n";

#[test]
fn add_list_show_readd_change_and_diff() {
    let temp = tempfile::tempdir().unwrap();
    let ws = temp.path().join("ws");
    let v1 = temp.path().join("customers.csv");
    std::fs::write(&v1, V1).unwrap();
    let v1 = v1.to_str().unwrap();

    // The workspace is created by the first add.
    let added = json(
        &ws,
        &[
            "data",
            "add",
            v1,
            "--name",
            "customers",
            "--label",
            "churned",
        ],
    );
    assert_eq!(added["version"], 1);
    assert_eq!(added["created"], true);
    assert_eq!(added["n_rows"], 4);
    assert_eq!(added["n_columns"], 4);
    assert_eq!(added["source_format"], "csv");
    assert!(added["content_digest"].as_str().unwrap().starts_with("b3:"));
    assert_eq!(added["columns"][0]["name"], "age");
    assert_eq!(added["columns"][0]["type"], "integer");
    assert_eq!(added["columns"][0]["nullable"], true);
    assert_eq!(
        added["columns"][0]["reason"],
        "every value is a whole number"
    );
    assert_eq!(added["columns"][2]["type"], "categorical");
    assert_eq!(added["stats"][0]["mean"], 41.0);
    assert_eq!(added["stats"][0]["missing"], 1);
    assert_eq!(added["label"]["column"], "churned");
    assert_eq!(
        added["label"]["classes"],
        serde_json::json!([{"class": "no", "count": 2}, {"class": "yes", "count": 2}])
    );

    let human = stdout(&ws, &["data", "add", v1, "--name", "customers"]);
    assert!(
        human.starts_with("customers@1 already registered (identical data)"),
        "{human}"
    );
    assert!(human.contains("4 rows × 4 columns"), "{human}");
    assert!(
        human.contains("every value is a number; `1200.5` (line 2) is not whole"),
        "{human}"
    );
    let again = json(&ws, &["data", "add", v1, "--name", "customers"]);
    assert_eq!(again["created"], false);
    assert_eq!(again["version"], 1);
    assert_eq!(again["content_digest"], added["content_digest"]);

    let listed = json(&ws, &["data", "list"]);
    let datasets = listed["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 1);
    assert_eq!(datasets[0]["name"], "customers");
    assert_eq!(datasets[0]["source_format"], "csv");

    let shown = json(&ws, &["data", "show", "customers@1"]);
    assert_eq!(shown["dataset"]["version"], 1);
    assert_eq!(shown["manifest"]["schema"][1]["type"], "float");
    assert_eq!(shown["manifest"]["stats"][1]["quantiles"][1], 830.25);
    let shown = stdout(&ws, &["data", "show", "customers"]);
    for heading in [
        "count",
        "missing",
        "mean",
        "std",
        "25%",
        "distinct",
        "top values",
    ] {
        assert!(shown.contains(heading), "no `{heading}` in {shown}");
    }
    assert!(shown.contains("basic (3)"), "{shown}");

    let v2 = temp.path().join("customers-v2.csv");
    std::fs::write(&v2, V2).unwrap();
    let changed = json(
        &ws,
        &["data", "add", v2.to_str().unwrap(), "--name", "customers"],
    );
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["created"], true);
    assert_ne!(changed["content_digest"], added["content_digest"]);

    let diff = json(&ws, &["data", "diff", "customers@1", "customers@2"]);
    let drift = &diff["drift"];
    assert_eq!(diff["identical"], false);
    assert_eq!(
        (
            drift["n_rows_before"].clone(),
            drift["n_rows_after"].clone()
        ),
        (4.into(), 5.into())
    );
    assert_eq!(drift["added"][0]["name"], "region");
    assert_eq!(drift["removed"], serde_json::json!([]));
    assert_eq!(drift["retyped"], serde_json::json!([]));
    let plan = drift["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "plan")
        .unwrap();
    assert_eq!(plan["categories"]["new"], serde_json::json!(["team"]));
    assert_eq!(plan["missing_rate_after"], 0.2);
    let age = &drift["columns"][0];
    assert!(age["numeric"]["mean_shift_in_std"].as_f64().unwrap() > 0.0);

    let human = stdout(&ws, &["data", "diff", "customers@1", "customers@2"]);
    assert!(human.contains("rows: 4 → 5 (+1)"), "{human}");
    assert!(human.contains("+ column `region` (categorical)"), "{human}");
    assert!(human.contains("mean shift (σ)"), "{human}");

    let err = failure(&ws, &["data", "show", "customers@3"]);
    assert!(err.contains("customers@3"), "{err}");
    assert!(err.contains("has versions 1, 2"), "{err}");
}

#[test]
fn bad_files_fail_with_what_and_where() {
    let temp = tempfile::tempdir().unwrap();
    let ws = temp.path().join("ws");
    let cases: [(&str, &[u8], &str); 6] = [
        (
            "empty.csv",
            b"",
            "the csv input is empty: expected a header line and at least one data row",
        ),
        (
            "header.csv",
            b"age,income\n",
            "the csv has a header (2 columns) but no data rows",
        ),
        (
            "ragged.csv",
            b"a,b,c\n1,2,3\n4,5\n",
            "line 3 has 2 fields but 3 were expected",
        ),
        (
            "latin1.csv",
            b"name,n\ncaf\xe9,1\n",
            "line 2 is not valid utf-8 (at byte offset 10); save the file as utf-8",
        ),
        (
            "dupes.csv",
            b"a,b,a\n1,2,3\n",
            "duplicate column names in the header: `a`; column names must be unique",
        ),
        (
            "fake.parquet",
            b"a,b\n1,2\n",
            "could not decode the parquet file",
        ),
    ];
    for (file, bytes, expected) in cases {
        let path = temp.path().join(file);
        std::fs::write(&path, bytes).unwrap();
        let err = failure(&ws, &["data", "add", path.to_str().unwrap(), "--name", "d"]);
        assert!(
            err.contains(&format!("cannot add `{}` as dataset `d`", path.display())),
            "{err}"
        );
        assert!(
            err.contains(expected),
            "{file}: expected `{expected}` in {err}"
        );
    }

    let good = temp.path().join("good.csv");
    std::fs::write(&good, "x,y\n1,yes\n2,yes\n").unwrap();
    let good = good.to_str().unwrap();
    let err = failure(&ws, &["data", "add", good, "--name", "d", "--label", "z"]);
    assert!(
        err.contains("label column `z` is not in the data; columns are: `x`, `y`"),
        "{err}"
    );
    let err = failure(&ws, &["data", "add", good, "--name", "d", "--label", "y"]);
    assert!(
        err.contains("label `y` has a single class `yes`; a classifier needs at least two"),
        "{err}"
    );

    let schema = temp.path().join("schema.toml");
    std::fs::write(&schema, "[columns]\ny = \"integer\"\n").unwrap();
    let err = failure(
        &ws,
        &[
            "data",
            "add",
            good,
            "--name",
            "d",
            "--schema",
            schema.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("line 2, column `y`: value `yes` is not a valid integer"),
        "{err}"
    );
    std::fs::write(&schema, "[columns]\nx = \"float\"\n").unwrap();
    let added = json(
        &ws,
        &[
            "data",
            "add",
            good,
            "--name",
            "d",
            "--schema",
            schema.to_str().unwrap(),
        ],
    );
    assert_eq!(added["columns"][0]["type"], "float");
    assert_eq!(added["columns"][0]["reason"], "declared in the schema");

    let err = failure(&ws, &["data", "add", good, "--name", "bad name!"]);
    assert!(err.contains("bad name!"), "{err}");
    let err = failure(&ws, &["data", "diff", "d@1", "d@1"]);
    assert!(err.contains("are the same version"), "{err}");
}

#[test]
fn predict_refuses_a_non_numeric_value_in_a_numeric_field() {
    let temp = tempfile::tempdir().unwrap();
    let ws = temp.path().join("qs");
    let output = Command::cargo_bin("versa")
        .unwrap()
        .env_remove("VERSA_WORKSPACE")
        .args(["quickstart", "--json", "--dir"])
        .arg(&ws)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = temp.path().join("rows.json");
    std::fs::write(&rows, r#"[{"age": "forty", "income": 52.5}]"#).unwrap();
    let err = failure(
        &ws,
        &[
            "predict",
            "churn@production",
            "--input",
            rows.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("is not valid input for churn@production"),
        "{err}"
    );
    assert!(
        err.contains("field `age`: expected a number (integer), got string \"forty\""),
        "{err}"
    );
}
