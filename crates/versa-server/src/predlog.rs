//! The prediction log: sampled request/response records appended as JSON
//! Lines under `<dir>/<model>/<yyyy-mm-dd>.jsonl` (UTC day), one record per
//! row, for `versa monitor`.
//!
//! Requests never wait on the disk, nor wake anything: [`PredictionLog::record`]
//! hands a batch to a bounded channel with `try_send`, and a dedicated writer
//! thread wakes every [`FLUSH_INTERVAL`] to append everything queued. (An
//! earlier writer blocked on the channel, so every logged request woke it —
//! a thread switch per request, which on a busy core showed up in the tail
//! latency; draining only every 50 ms made each drain a multi-millisecond
//! burst on that core, so the interval is short.) When the channel is full the batch is dropped and counted
//! (`versa_prediction_log_dropped_total` in `/metrics`).
//!
//! Durability: after each drain the writer flushes its buffers to the OS, and
//! it `fsync`s every open file at most once per [`SYNC_INTERVAL`]. Dropping the
//! [`PredictionLog`] (the server stopping) closes the channel and waits for the
//! writer's last drain, flush and `fsync`. A process crash therefore loses the
//! records queued since the last drain (up to one `FLUSH_INTERVAL` under load,
//! [`IDLE_FLUSH_INTERVAL`] after a quiet spell); a machine
//! crash also loses up to one `SYNC_INTERVAL` of appended lines. A torn last
//! line is possible after a machine crash; readers skip lines that do not parse.
//!
//! Sampling is per request (all rows of a sampled request are logged, and a
//! shadow's rows follow its request's decision so primary and shadow answers
//! pair up). It is a deterministic counter, not a random draw: request `n` is
//! logged when `floor((n + 1) · rate) > floor(n · rate)`, so exactly
//! `rate` of every run of requests is kept, evenly spaced.
//!
//! Must not know HTTP or protocols; it receives finished records.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use versa_pipeline::bundle::Prediction;

/// How often appended lines are forced to disk.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// How often the writer wakes to append what requests queued.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(5);
/// The longest the writer sleeps once requests stop (it doubles its pause
/// from [`FLUSH_INTERVAL`] while it finds nothing).
pub const IDLE_FLUSH_INTERVAL: Duration = Duration::from_millis(160);
/// Batches (one per request) that may wait for the writer before new ones
/// are dropped: many drain intervals' worth even at 100,000 requests/s.
const CHANNEL_BATCHES: usize = 16_384;
/// Version of the record layout, written in every record.
pub const RECORD_FORMAT_VERSION: u32 = 1;

/// Which part a version played in answering a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The version the alias (or the version number) names.
    Primary,
    /// The alias's canary, answering its share of requests.
    Canary,
    /// The alias's shadow: ran on the same rows, never answered.
    Shadow,
}

/// One logged row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRecord {
    /// Record layout version ([`RECORD_FORMAT_VERSION`]).
    pub format_version: u32,
    /// When the answer was computed, ms since the Unix epoch.
    pub time_ms: i64,
    /// Model name.
    pub model: String,
    /// The version that computed this answer.
    pub version: u32,
    /// Its part in the request.
    pub role: Role,
    /// Time this version took for the whole request, in microseconds.
    pub latency_us: u64,
    /// Position of the row in its request; 0 starts a request (readers count
    /// requests and their latencies from these).
    pub row_index: u32,
    /// The raw input row, as the client sent it.
    pub input: Map<String, Value>,
    /// Predicted label.
    pub label: String,
    /// Probability per class label.
    pub probabilities: std::collections::BTreeMap<String, f32>,
}

/// Where and how much to log.
#[derive(Debug, Clone)]
pub struct PredictionLogConfig {
    /// Directory holding one subdirectory per model (`.versa/predictions`).
    pub dir: PathBuf,
    /// Share of requests logged, 0.0 (off) to 1.0 (all).
    pub sample_rate: f64,
}

/// The handle requests use; the writer thread owns the files.
pub struct PredictionLog {
    /// `None` once dropping has begun.
    sender: Option<SyncSender<Vec<PredictionRecord>>>,
    /// Joined on drop, so the last records reach the disk.
    writer: Option<std::thread::JoinHandle<()>>,
    sample_rate: f64,
    requests_seen: AtomicU64,
    dropped_records: AtomicU64,
}

impl PredictionLog {
    /// Starts the writer thread. The rate is clamped to 0–1 (NaN is 0).
    pub fn start(config: PredictionLogConfig) -> std::io::Result<PredictionLog> {
        std::fs::create_dir_all(&config.dir)?;
        let (sender, receiver) = sync_channel(CHANNEL_BATCHES);
        let dir = config.dir.clone();
        let writer = std::thread::Builder::new()
            .name("versa-prediction-log".into())
            .spawn(move || write_loop(&dir, &receiver))?;
        let sample_rate = if config.sample_rate.is_nan() {
            0.0
        } else {
            config.sample_rate.clamp(0.0, 1.0)
        };
        Ok(PredictionLog {
            sender: Some(sender),
            writer: Some(writer),
            sample_rate,
            requests_seen: AtomicU64::new(0),
            dropped_records: AtomicU64::new(0),
        })
    }

    /// Whether the next request is logged (see the module doc).
    pub fn sample(&self) -> bool {
        if self.sample_rate <= 0.0 {
            return false;
        }
        let n = self.requests_seen.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * self.sample_rate).floor() > (n * self.sample_rate).floor()
    }

    /// Queues one request's records; never blocks. Dropped records are counted.
    pub fn record(&self, records: Vec<PredictionRecord>) {
        let n_records = records.len() as u64;
        let sent = match &self.sender {
            Some(sender) => sender.try_send(records),
            None => Err(TrySendError::Disconnected(records)),
        };
        match sent {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped_records.fetch_add(n_records, Ordering::Relaxed);
            }
        }
    }

    /// Records dropped because the writer fell behind (or stopped).
    pub fn dropped(&self) -> u64 {
        self.dropped_records.load(Ordering::Relaxed)
    }
}

impl Drop for PredictionLog {
    /// Closes the channel and waits for the writer's last drain and `fsync`.
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the prediction log writer panicked; its last records may be lost");
        }
    }
}

/// Builds the records of one answered request.
pub(crate) fn records(
    model: &str,
    version: u32,
    role: Role,
    latency: Duration,
    rows: &[Map<String, Value>],
    predictions: &[Prediction],
) -> Vec<PredictionRecord> {
    let time_ms = now_ms();
    let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    rows.iter()
        .zip(predictions)
        .enumerate()
        .map(|(row_index, (row, prediction))| PredictionRecord {
            format_version: RECORD_FORMAT_VERSION,
            time_ms,
            model: model.to_string(),
            version,
            role,
            latency_us,
            row_index: u32::try_from(row_index).unwrap_or(u32::MAX),
            input: row.clone(),
            label: prediction.label.clone(),
            probabilities: prediction.probabilities.clone(),
        })
        .collect()
}

fn write_loop(dir: &Path, receiver: &Receiver<Vec<PredictionRecord>>) {
    let mut files: HashMap<PathBuf, BufWriter<File>> = HashMap::new();
    let mut last_sync = Instant::now();
    let mut pause = FLUSH_INTERVAL;
    loop {
        // Sleep rather than wait on the channel: a sender never wakes us.
        std::thread::sleep(pause);
        let mut n_batches = 0usize;
        let closed = loop {
            match receiver.try_recv() {
                Ok(batch) => {
                    n_batches += 1;
                    append(dir, &mut files, batch);
                }
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
        };
        // An idle server backs off, so it does not wake 200 times a second
        // on a core that another process may be busy on.
        pause = if n_batches == 0 {
            (pause * 2).min(IDLE_FLUSH_INTERVAL)
        } else {
            FLUSH_INTERVAL
        };
        flush(&mut files);
        if closed {
            sync(&mut files);
            return;
        }
        if last_sync.elapsed() >= SYNC_INTERVAL {
            sync(&mut files);
            last_sync = Instant::now();
        }
    }
}

fn append(dir: &Path, files: &mut HashMap<PathBuf, BufWriter<File>>, batch: Vec<PredictionRecord>) {
    for record in batch {
        let path = dir
            .join(&record.model)
            .join(format!("{}.jsonl", utc_date(record.time_ms)));
        if !files.contains_key(&path) {
            // Yesterday's file is done once today's opens; close it.
            files.retain(|open, _| open.parent() != path.parent());
            let opened = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| OpenOptions::new().create(true).append(true).open(&path));
            match opened {
                Ok(file) => {
                    files.insert(path.clone(), BufWriter::new(file));
                }
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "cannot open the prediction log; record lost");
                    continue;
                }
            }
        }
        let Some(writer) = files.get_mut(&path) else {
            continue;
        };
        let written = serde_json::to_writer(&mut *writer, &record)
            .map_err(std::io::Error::other)
            .and_then(|()| writer.write_all(b"\n"));
        if let Err(error) = written {
            tracing::error!(path = %path.display(), %error, "cannot append to the prediction log");
        }
    }
}

fn flush(files: &mut HashMap<PathBuf, BufWriter<File>>) {
    for (path, writer) in files.iter_mut() {
        if let Err(error) = writer.flush() {
            tracing::error!(path = %path.display(), %error, "cannot flush the prediction log");
        }
    }
}

fn sync(files: &mut HashMap<PathBuf, BufWriter<File>>) {
    for (path, writer) in files.iter_mut() {
        if let Err(error) = writer.get_ref().sync_data() {
            tracing::error!(path = %path.display(), %error, "cannot sync the prediction log");
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `yyyy-mm-dd` (UTC) of a time in ms since the Unix epoch, by the
/// proleptic Gregorian calendar (days → civil date, era-based).
pub fn utc_date(time_ms: i64) -> String {
    let days = time_ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_date(1_798_761_599_999), "2026-12-31");
        assert_eq!(utc_date(-1), "1969-12-31");
    }

    #[test]
    fn sampling_keeps_exactly_the_rate() {
        let dir = tempfile::tempdir().unwrap();
        for (rate, kept) in [(1.0, 1000), (0.0, 0), (0.25, 250), (0.1, 100)] {
            let log = PredictionLog::start(PredictionLogConfig {
                dir: dir.path().to_path_buf(),
                sample_rate: rate,
            })
            .unwrap();
            let n = (0..1000).filter(|_| log.sample()).count();
            assert_eq!(n, kept, "rate {rate}");
        }
    }
}
