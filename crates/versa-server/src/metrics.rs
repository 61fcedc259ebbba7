//! Prometheus metrics: requests, errors and a latency histogram per model
//! version and protocol, rendered in the text exposition format at `/metrics`.
//!
//! Label values come only from versions that exist (unknown models are
//! counted under `model="_unresolved"`), so clients cannot grow the series
//! set without bound.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5,
];

/// Which API a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    /// `/v1/models/…/predict`.
    Native,
    /// Open Inference Protocol v2 `/v2/models/…/infer`.
    OpenInference,
    /// MLflow scoring `/invocations`.
    Mlflow,
}

impl Protocol {
    fn label(self) -> &'static str {
        match self {
            Protocol::Native => "native",
            Protocol::OpenInference => "v2",
            Protocol::Mlflow => "mlflow",
        }
    }
}

#[derive(Default)]
struct Series {
    requests: u64,
    errors: u64,
    buckets: [u64; BUCKETS.len()],
    sum_seconds: f64,
}

/// The metric registry.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, Protocol), Series>>,
}

impl Metrics {
    /// Records one prediction request.
    pub fn observe(
        &self,
        model: Option<(&str, u32)>,
        protocol: Protocol,
        succeeded: bool,
        elapsed: Duration,
    ) {
        let (name, version) = match model {
            Some((name, version)) => (name.to_string(), version.to_string()),
            None => ("_unresolved".to_string(), String::new()),
        };
        let seconds = elapsed.as_secs_f64();
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let entry = series.entry((name, version, protocol)).or_default();
        entry.requests += 1;
        if !succeeded {
            entry.errors += 1;
        }
        entry.sum_seconds += seconds;
        for (bucket, bound) in entry.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let labels = |(model, version, protocol): &(String, String, Protocol)| {
            format!(
                "model=\"{}\",version=\"{}\",protocol=\"{}\"",
                escape(model),
                escape(version),
                protocol.label()
            )
        };
        out.push_str("# HELP versa_requests_total Prediction requests answered, by model version and protocol.\n");
        out.push_str("# TYPE versa_requests_total counter\n");
        for (key, s) in series.iter() {
            let _ = writeln!(
                out,
                "versa_requests_total{{{}}} {}",
                labels(key),
                s.requests
            );
        }
        out.push_str("# HELP versa_request_errors_total Prediction requests that failed, by model version and protocol.\n");
        out.push_str("# TYPE versa_request_errors_total counter\n");
        for (key, s) in series.iter() {
            let _ = writeln!(
                out,
                "versa_request_errors_total{{{}}} {}",
                labels(key),
                s.errors
            );
        }
        out.push_str(
            "# HELP versa_request_duration_seconds Prediction latency inside the server.\n",
        );
        out.push_str("# TYPE versa_request_duration_seconds histogram\n");
        for (key, s) in series.iter() {
            let l = labels(key);
            for (count, bound) in s.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "versa_request_duration_seconds_bucket{{{l},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "versa_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                s.requests
            );
            let _ = writeln!(
                out,
                "versa_request_duration_seconds_sum{{{l}}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "versa_request_duration_seconds_count{{{l}}} {}",
                s.requests
            );
        }
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_histogram() {
        let metrics = Metrics::default();
        metrics.observe(
            Some(("churn", 2)),
            Protocol::Native,
            true,
            Duration::from_micros(80),
        );
        metrics.observe(
            Some(("churn", 2)),
            Protocol::Native,
            false,
            Duration::from_millis(3),
        );
        metrics.observe(None, Protocol::Mlflow, false, Duration::from_micros(10));
        let text = metrics.render();
        let l = "model=\"churn\",version=\"2\",protocol=\"native\"";
        assert!(
            text.contains(&format!("versa_requests_total{{{l}}} 2")),
            "{text}"
        );
        assert!(
            text.contains(&format!("versa_request_errors_total{{{l}}} 1")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "versa_request_duration_seconds_bucket{{{l},le=\"0.0001\"}} 1"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "versa_request_duration_seconds_bucket{{{l},le=\"0.005\"}} 2"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "versa_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 2"
            )),
            "{text}"
        );
        assert!(
            text.contains("model=\"_unresolved\",version=\"\",protocol=\"mlflow\"} 1"),
            "{text}"
        );
    }
}
