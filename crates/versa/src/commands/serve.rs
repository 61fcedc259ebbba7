//! `versa serve`: the HTTP prediction server over the workspace.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use versa_core::{ModelRef, VersionSelector};
use versa_server::{BatchConfig, ServerState};

use crate::Global;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Load these `NAME@ALIAS` versions at start-up (comma-separated); the first also answers
    /// MLflow's `/invocations`. Other versions load on their first request.
    #[arg(long, value_delimiter = ',', value_name = "NAME@ALIAS,…")]
    models: Vec<String>,
    /// Dynamic batching: queue small requests per model version and predict up to this many
    /// rows with one GEMM (off unless given; try 32).
    #[arg(long, value_name = "ROWS")]
    batch_max_size: Option<usize>,
    /// With --batch-max-size: longest wait after a batch's first request, in microseconds.
    #[arg(
        long,
        default_value_t = 500,
        value_name = "MICROSECONDS",
        requires = "batch_max_size"
    )]
    batch_max_delay_us: u64,
    /// Share of requests written to the prediction log `.versa/predictions/<model>/<day>.jsonl`
    /// (read by `versa monitor`): 1.0 logs all, 0 turns the log off.
    #[arg(long, default_value_t = 1.0, value_name = "RATE")]
    log_sample: f64,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let workspace = super::open_workspace(global).await?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    if global.json {
        // One JSON line, so scripts and tests can learn the port.
        println!(
            "{}",
            serde_json::json!({ "event": "listening", "addr": addr.to_string() })
        );
    } else {
        println!(
            "versa serve · workspace {} · listening on http://{addr}",
            workspace.root().display()
        );
        println!(
            "  POST http://{addr}/v1/models/NAME@ALIAS/predict  {{\"rows\": [{{…raw fields…}}]}}"
        );
        println!(
            "  POST http://{addr}/v2/models/NAME/infer (Open Inference Protocol v2) · POST /invocations (MLflow)"
        );
        println!("  GET  http://{addr}/v1/models · /metrics · /healthz · /readyz   (Ctrl-C stops)");
    }
    let mut preload = Vec::new();
    for text in &args.models {
        match ModelRef::parse(text)? {
            ModelRef {
                name,
                selector: VersionSelector::Alias(alias),
            } => preload.push((name, alias)),
            _ => bail!("--models takes NAME@ALIAS entries (e.g. churn@production), got `{text}`"),
        }
    }
    if !(0.0..=1.0).contains(&args.log_sample) {
        bail!(
            "--log-sample {} is out of range; expected a share from 0 (off) to 1 (every request)",
            args.log_sample
        );
    }
    let log_dir = workspace.root().join(".versa").join("predictions");
    let batching = match args.batch_max_size {
        None => None,
        Some(max_size) => Some(
            BatchConfig::new(max_size, Duration::from_micros(args.batch_max_delay_us))
                .context("invalid --batch-max-size / --batch-max-delay-us")?,
        ),
    };
    let state = ServerState::with_batching(
        workspace.catalog,
        workspace.blobs,
        preload.first().cloned(),
        batching,
    );
    if args.log_sample > 0.0 {
        state
            .enable_prediction_log(versa_server::predlog::PredictionLogConfig {
                dir: log_dir.clone(),
                sample_rate: args.log_sample,
            })
            .with_context(|| {
                format!("cannot start the prediction log in `{}`", log_dir.display())
            })?;
    }
    state
        .models()
        .preload(&preload)
        .await
        .map_err(|e| anyhow::anyhow!("cannot load the requested models: {e}"))?;
    versa_server::serve(listener, state, shutdown_signal())
        .await
        .context("the server failed")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
