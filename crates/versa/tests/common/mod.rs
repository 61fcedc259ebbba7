//! Shared fixture for the CLI tests: the built `versa` binary, and one
//! quickstart workspace per test file (made once, on first use).
//!
//! Each test file is its own process, so a `OnceLock` gives exactly one
//! quickstart per file. Its directory lives under cargo's per-target temp
//! dir, named with the process id; directories left by finished test
//! processes are pruned when the next one starts.

#![allow(dead_code)] // Each test file uses a different subset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

/// The seed every fixture uses; the quickstart is deterministic for it.
pub(crate) const SEED: u64 = 42;

/// The `versa` binary with a clean environment (no inherited workspace, no colour).
pub(crate) fn versa() -> Command {
    let mut command = Command::cargo_bin("versa").expect("the versa binary is built");
    command
        .env_remove("VERSA_WORKSPACE")
        .env_remove("VERSA_ACTOR")
        .env("NO_COLOR", "1");
    command
}

/// The quickstart workspace of this test file, created on first use.
pub(crate) fn workspace(name: &str) -> &'static Path {
    static WORKSPACE: OnceLock<PathBuf> = OnceLock::new();
    WORKSPACE.get_or_init(|| {
        let parent = Path::new(env!("CARGO_TARGET_TMPDIR"));
        prune_stale(parent, name);
        let dir = parent.join(format!("{name}-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).expect("remove a leftover fixture dir");
        }
        let output = versa()
            .args(["quickstart", "--json", "--seed", &SEED.to_string(), "--dir"])
            .arg(&dir)
            .output()
            .expect("versa runs");
        assert!(
            output.status.success(),
            "quickstart failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        dir
    })
}

/// Removes fixture dirs of earlier test processes that are no longer running.
fn prune_stale(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(name))
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        // Only where /proc tells us which processes are alive.
        if Path::new("/proc/self").exists() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Runs `versa --workspace DIR ARGS…` and returns its output, whatever the exit code.
pub(crate) fn run_in(dir: &Path, args: &[&str]) -> Output {
    versa()
        .arg("--workspace")
        .arg(dir)
        .args(args)
        .output()
        .expect("versa runs")
}

/// Runs a command that must succeed and returns its stdout.
pub(crate) fn stdout_of(dir: &Path, args: &[&str]) -> String {
    let output = run_in(dir, args);
    assert!(
        output.status.success(),
        "`versa {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

/// Runs a command with `--json` that must succeed and parses its one document.
pub(crate) fn json_of(dir: &Path, args: &[&str]) -> Value {
    let mut with_json = vec!["--json"];
    with_json.extend_from_slice(args);
    serde_json::from_str(&stdout_of(dir, &with_json)).expect("stdout is one JSON document")
}

/// Runs a command that must fail with exit code 1 and returns its stderr.
pub(crate) fn failure_of(dir: &Path, args: &[&str]) -> String {
    let output = run_in(dir, args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "`versa {}` should fail with exit code 1; stdout: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).expect("stderr is UTF-8")
}
