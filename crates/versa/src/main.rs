//! The `versa` binary: command-line definition and glue.
//!
//! The library crates do the work and never see clap or anyhow; this crate
//! parses arguments, opens the workspace, calls them, and renders results —
//! tables, progress bars and charts for people (progress on stderr, results on
//! stdout), or one JSON document on stdout with `--json`.
//!
//! Exit codes: 0 success; 1 the command failed (the message says why);
//! 2 the command line was invalid.

mod chart;
mod commands;
mod compare;
mod render;
mod rows;
mod svg;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// versa: version control for machine-learning models.
///
/// Ingest data as immutable versions, fit preprocessing once, train model
/// versions with a live training trace, compare them, deploy one behind an
/// alias and serve predictions over HTTP — with every step traceable.
#[derive(Debug, Parser)]
#[command(name = "versa", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Workspace directory (holds `.versa/`); by default the nearest one at or above the current directory.
    #[arg(long, global = true, value_name = "DIR", env = "VERSA_WORKSPACE")]
    workspace: Option<PathBuf>,
    /// Catalog location: a `postgres://` URL (several workspaces or servers can share it) or a
    /// SQLite file; by default `.versa/config.toml`'s `catalog`, else `.versa/catalog.db`.
    #[arg(long, global = true, value_name = "URL", env = "VERSA_CATALOG")]
    catalog: Option<String>,
    /// Print one JSON document on stdout instead of tables and charts.
    #[arg(long, global = true)]
    json: bool,
    /// Log more (repeat for more detail); `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole lifecycle on embedded sample data: data → preprocessing →
    /// features → model v1 and v2 → evaluation → deployment → a live prediction.
    Quickstart(commands::quickstart::Args),
    /// Dataset versions: add a CSV or Parquet file, list, show statistics, diff two versions.
    #[command(subcommand)]
    Data(commands::data::Command),
    /// Registered models and their versions.
    #[command(subcommand)]
    Models(commands::models::Command),
    /// Training runs.
    #[command(subcommand)]
    Runs(commands::runs::Command),
    /// Train one new model version on a registered dataset, with a live training trace.
    Train(commands::train::Args),
    /// Trace a model version back to its data: alias → version → run →
    /// transform → dataset version.
    Lineage(commands::lineage::Args),
    /// Predict with a deployed model version on rows from a CSV or JSON file.
    Predict(commands::predict::Args),
    /// Serve predictions over HTTP.
    Serve(commands::serve::Args),
    /// Route an alias's traffic: a canary version answering a share of requests, a shadow
    /// version run beside it (logged, never answering), or --clear.
    Deploy(commands::deploy::Args),
    /// Summarize the prediction log: answers and latency per version, input drift vs training data.
    Monitor(commands::monitor::Args),
    /// Write an example pipeline (`versa.toml` and its data) to start from.
    Init(commands::init::Args),
    /// Run the pipeline in `versa.toml`, re-running only stages whose inputs changed.
    Run(commands::run::Args),
    /// Retrain a model version from its recorded params, data, split and transform; check the weights match.
    Repro(commands::repro::Args),
    /// Say which stages of `versa.toml` are fresh or stale, and why.
    Status(commands::status::Args),
}

/// Options every command sees.
pub(crate) struct Global {
    pub(crate) workspace: Option<PathBuf>,
    pub(crate) catalog: Option<String>,
    pub(crate) json: bool,
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let global = Global {
        workspace: cli.workspace,
        catalog: cli.catalog,
        json: cli.json,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Quickstart(args) => commands::quickstart::run(&global, args).await,
            Command::Data(command) => commands::data::run(&global, command).await,
            Command::Models(command) => commands::models::run(&global, command).await,
            Command::Runs(command) => commands::runs::run(&global, command).await,
            Command::Train(args) => commands::train::run(&global, args).await,
            Command::Lineage(args) => commands::lineage::run(&global, args).await,
            Command::Predict(args) => commands::predict::run(&global, args).await,
            Command::Serve(args) => commands::serve::run(&global, args).await,
            Command::Deploy(args) => commands::deploy::run(&global, args).await,
            Command::Monitor(args) => commands::monitor::run(&global, args).await,
            Command::Init(args) => commands::init::run(&global, args).await,
            Command::Run(args) => commands::run::run(&global, args).await,
            Command::Repro(args) => commands::repro::run(&global, args).await,
            Command::Status(args) => commands::status::run(&global, args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `versa models list | head` closes stdout early; `println!` then panics.
/// Like other Unix tools killed by SIGPIPE, exit quietly with status 141
/// instead of printing a backtrace. (Resetting the SIGPIPE handler would need
/// `unsafe`, which the workspace forbids.)
fn quiet_on_closed_stdout() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
