//! Dynamic batching: small prediction requests for the same model version
//! are queued and answered together in one pass, trading up to the
//! configured delay for fewer task hand-offs per row under concurrency.
//! Whether that pays depends on the model: for the scenario's small MLP a
//! row costs well under a microsecond and batching does not raise
//! throughput (see `bench/serve/run.sh`, which measures both); it is there
//! for costlier models and stays off by default.
//!
//! Off by default ([`BatchConfig`] absent). When on, a request of fewer than
//! `max_size` rows becomes a job on its version's queue; one worker task per
//! (model, version) takes the first job, keeps collecting until it holds
//! `max_size` rows or `max_delay` has passed since that first job, predicts
//! every row with [`ModelBundle::predict_rows`] (validation per row) and
//! answers each job on its own oneshot channel. Bigger requests are
//! already batches and go straight to `predict_rows`.
//!
//! Answers do not depend on batching: `predict_rows` computes each row on
//! its own with the same loops as a single-row prediction, and the unbatched
//! path calls it too.
//!
//! Shutdown: the queue senders live in the server state; a worker exits only
//! once every sender is gone and the queue is drained, so no accepted job is
//! dropped. If a worker is gone anyway (runtime shutting down), the waiting
//! request gets a 503 instead of hanging.
//!
//! This module knows nothing of protocols, routes or metrics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use versa_pipeline::bundle::{ModelBundle, Prediction};

use crate::ApiError;

/// Requests of at most this many rows are predicted on the async worker;
/// bigger ones move to the blocking pool so they cannot stall other requests.
const INLINE_ROWS: usize = 64;

/// Granularity of tokio's timer; shorter waits are done by yielding.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Largest `max_size` accepted: a batch bigger than this would hold the
/// worker long enough to hurt every queued request's latency.
pub const MAX_BATCH_SIZE: usize = 4096;
/// Longest `max_delay` accepted.
pub const MAX_BATCH_DELAY: Duration = Duration::from_millis(100);

/// How requests are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    max_size: usize,
    max_delay: Duration,
}

/// A batching setting outside the accepted range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BatchConfigError {
    /// `max_size` is 0 or too large.
    #[error("batch max size {0} is out of range; expected 1 to {MAX_BATCH_SIZE} rows")]
    Size(usize),
    /// `max_delay` is too long.
    #[error("batch max delay {0:?} is too long; expected at most {MAX_BATCH_DELAY:?}")]
    Delay(Duration),
}

impl BatchConfig {
    /// Batches of up to `max_size` rows, waiting at most `max_delay` after a
    /// batch's first request.
    pub fn new(max_size: usize, max_delay: Duration) -> Result<BatchConfig, BatchConfigError> {
        if max_size == 0 || max_size > MAX_BATCH_SIZE {
            return Err(BatchConfigError::Size(max_size));
        }
        if max_delay > MAX_BATCH_DELAY {
            return Err(BatchConfigError::Delay(max_delay));
        }
        Ok(BatchConfig {
            max_size,
            max_delay,
        })
    }

    /// Most rows in one batch.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Longest wait after a batch's first request.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }
}

/// One request's rows and where to send their answer.
struct Job {
    rows: Vec<Map<String, Value>>,
    reply: oneshot::Sender<Result<Vec<Prediction>, ApiError>>,
}

type Queues = HashMap<(String, u32), mpsc::UnboundedSender<Job>>;

/// How many batches the workers ran, and how many rows they held.
#[derive(Debug, Default)]
pub struct BatchCounts {
    jobs: AtomicU64,
    batches: AtomicU64,
    rows: AtomicU64,
}

impl BatchCounts {
    /// Requests queued for batching so far.
    pub fn jobs(&self) -> u64 {
        self.jobs.load(Ordering::Relaxed)
    }

    /// Batches predicted so far (each one pass over its rows).
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Rows predicted in those batches.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }
}

/// The per-version queues (empty and unused when batching is off).
pub(crate) struct Batcher {
    config: Option<BatchConfig>,
    queues: Mutex<Queues>,
    counts: Arc<BatchCounts>,
}

impl Batcher {
    pub(crate) fn new(config: Option<BatchConfig>) -> Batcher {
        Batcher {
            config,
            queues: Mutex::new(HashMap::new()),
            counts: Arc::default(),
        }
    }

    pub(crate) fn config(&self) -> Option<BatchConfig> {
        self.config
    }

    pub(crate) fn counts(&self) -> &BatchCounts {
        &self.counts
    }

    /// Predicts `rows` on `bundle`, through the version's queue when
    /// batching is on and the request is small enough to share a batch.
    pub(crate) async fn predict(
        &self,
        bundle: &Arc<ModelBundle>,
        rows: Vec<Map<String, Value>>,
    ) -> Result<Vec<Prediction>, ApiError> {
        match self.config {
            Some(config) if rows.len() < config.max_size => {
                let (reply, answer) = oneshot::channel();
                self.enqueue(bundle, config, Job { rows, reply });
                answer.await.unwrap_or_else(|_| {
                    Err(ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the batch worker stopped (server shutting down); retry the request",
                    ))
                })
            }
            _ if rows.len() <= INLINE_ROWS => predict_request(bundle, &rows),
            _ => {
                let bundle = bundle.clone();
                tokio::task::spawn_blocking(move || predict_request(&bundle, &rows))
                    .await
                    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
                    .and_then(|result| result)
            }
        }
    }

    fn enqueue(&self, bundle: &Arc<ModelBundle>, config: BatchConfig, job: Job) {
        self.counts.jobs.fetch_add(1, Ordering::Relaxed);
        let key = (bundle.name.to_string(), bundle.version);
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let job = match queues.get(&key) {
            Some(sender) => match sender.send(job) {
                Ok(()) => return,
                // The worker is gone (it panicked or the runtime is
                // stopping): start a new one below.
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (sender, receiver) = mpsc::unbounded_channel();
        // A fresh receiver is open, so this send cannot fail.
        let _ = sender.send(job);
        queues.insert(key, sender);
        tokio::spawn(worker(
            bundle.clone(),
            config,
            self.counts.clone(),
            receiver,
        ));
    }
}

/// Answers one request's rows; the first bad row fails the request, named by
/// its index in the request.
fn predict_request(
    bundle: &ModelBundle,
    rows: &[Map<String, Value>],
) -> Result<Vec<Prediction>, ApiError> {
    bundle
        .predict_rows(rows)
        .into_iter()
        .enumerate()
        .map(|(index, result)| {
            result.map_err(|e| ApiError::bad_request(format!("row {index}: {e}")))
        })
        .collect()
}

async fn worker(
    bundle: Arc<ModelBundle>,
    config: BatchConfig,
    counts: Arc<BatchCounts>,
    mut receiver: mpsc::UnboundedReceiver<Job>,
) {
    // `recv` yields queued jobs before it reports the channel closed, so
    // every accepted job is answered before the worker exits.
    while let Some(first) = receiver.recv().await {
        let deadline = Instant::now() + config.max_delay;
        let mut n_rows = first.rows.len();
        let mut jobs = vec![first];
        while n_rows < config.max_size {
            let next = match receiver.try_recv() {
                Ok(job) => Some(job),
                Err(mpsc::error::TryRecvError::Empty) => {
                    let now = Instant::now();
                    if now >= deadline {
                        None
                    } else if deadline - now >= TIMER_RESOLUTION {
                        // Past the deadline: run the batch as it is.
                        tokio::time::timeout_at(deadline, receiver.recv())
                            .await
                            .unwrap_or_default()
                    } else {
                        // tokio's timer ticks in milliseconds, so a shorter
                        // wait would last a whole tick: let other tasks run
                        // (they may enqueue) and look again.
                        tokio::task::yield_now().await;
                        continue;
                    }
                }
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            };
            let Some(job) = next else { break };
            n_rows += job.rows.len();
            jobs.push(job);
        }
        counts.batches.fetch_add(1, Ordering::Relaxed);
        counts.rows.fetch_add(n_rows as u64, Ordering::Relaxed);
        if n_rows <= INLINE_ROWS {
            answer_batch(&bundle, jobs);
        } else {
            let bundle = bundle.clone();
            // If this fails the jobs' reply senders are dropped and each
            // requester answers 503; the worker itself keeps serving.
            let _ = tokio::task::spawn_blocking(move || answer_batch(&bundle, jobs)).await;
        }
    }
}

/// Predicts every job's rows in one call and splits the answers back.
fn answer_batch(bundle: &ModelBundle, jobs: Vec<Job>) {
    let mut results = bundle
        .predict_rows(jobs.iter().flat_map(|job| job.rows.iter()))
        .into_iter();
    for job in jobs {
        // Take all of this job's results before looking at them, so a bad
        // row cannot leave its results for the next job.
        let own: Vec<_> = results.by_ref().take(job.rows.len()).collect();
        let answer: Result<Vec<Prediction>, ApiError> = own
            .into_iter()
            .enumerate()
            .map(|(index, result)| {
                result.map_err(|e| ApiError::bad_request(format!("row {index}: {e}")))
            })
            .collect();
        // The requester may have gone (client disconnected); nothing to do.
        let _ = job.reply.send(answer);
    }
}
