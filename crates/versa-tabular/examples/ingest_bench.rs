//! Times versa's ingest hot path on one CSV file, for `bench/ingest/run.sh`:
//! decode (with type inference), column statistics and the content digest,
//! each measured separately, best of `--repeat` runs. Prints one JSON object.
//!
//! Usage: `ingest_bench FILE [--repeat N] [--decode-only]` (the last one
//! times decoding alone, for profiling it). The file is read into memory
//! first, so disk speed is not measured (pandas is timed the same way).

use std::time::Instant;

use versa_tabular::csv::{CsvOptions, decode_csv};
use versa_tabular::{column_stats, content_digest};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: ingest_bench FILE [--repeat N]")?;
    let mut repeat = 3usize;
    let mut decode_only = false;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--repeat" => repeat = args.next().ok_or("--repeat needs a number")?.parse()?,
            "--decode-only" => decode_only = true,
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let bytes = std::fs::read(&path)?;
    let mut best = [f64::INFINITY; 4];
    let mut shape = (0, 0);
    let mut digest = String::new();
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        let decoded = decode_csv(&bytes, &CsvOptions::default())?;
        let decoded_at = Instant::now();
        if decode_only {
            best[0] = best[0].min((decoded_at - start).as_secs_f64());
            shape = (decoded.table.n_rows(), decoded.table.n_columns());
            continue;
        }
        let stats = column_stats(&decoded.table);
        let stats_at = Instant::now();
        digest = content_digest(&decoded.table).to_string();
        let end = Instant::now();
        let times = [
            (decoded_at - start).as_secs_f64(),
            (stats_at - decoded_at).as_secs_f64(),
            (end - stats_at).as_secs_f64(),
            (end - start).as_secs_f64(),
        ];
        for (best, time) in best.iter_mut().zip(times) {
            *best = best.min(time);
        }
        shape = (decoded.table.n_rows(), decoded.table.n_columns());
        assert_eq!(stats.len(), shape.1);
    }
    println!(
        "{{\"rows\": {}, \"columns\": {}, \"bytes\": {}, \"decode_s\": {:.4}, \"stats_s\": {:.4}, \
         \"digest_s\": {:.4}, \"total_s\": {:.4}, \"digest\": \"{digest}\"}}",
        shape.0,
        shape.1,
        bytes.len(),
        best[0],
        best[1],
        best[2],
        best[3]
    );
    Ok(())
}
