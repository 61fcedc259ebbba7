//! The versa side of the benchmarks in `bench/mlp/`: trains versa's MLP on a
//! numeric CSV written by the Python scripts and prints one JSON document.
//!
//! ```text
//! bench_train accuracy --train TRAIN.csv --test TEST.csv [--hidden 64,32 --epochs 30 --lr 0.001
//!                      --alpha 0.0001 --batch 64 --seed 0 --init auto|glorot-uniform]
//! bench_train speed --train TRAIN.csv [--hidden 64,32 --epochs 5 --batch 64 --lr 0.001
//!                   --alpha 0.0001 --single-rows 50000 --batches 200]
//! ```
//!
//! The CSV has a header line, then rows of feature values with the class
//! index (0, 1, …) in the last column. `accuracy` trains and scores the test
//! file; `speed` measures training throughput (samples per second over all
//! epochs), single-row inference latency (`predict_proba_row`) and 1024-row
//! batch inference latency (`predict_proba`). Everything runs on one thread,
//! as versa's engine always does. This is a measuring tool, not a test: it
//! asserts nothing about timings.

use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Instant;

use ndarray::{Array2, Axis, Slice};
use versa_mlp::{Activation, Initialization, Mlp, Optimizer, RowScratch, TrainConfig, train};

/// A dataset read from CSV: features row-major and class indices.
struct Data {
    x: Array2<f32>,
    y: Vec<usize>,
}

fn read_csv(path: &str) -> Result<Data, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    let mut lines = text.lines();
    let header = lines.next().ok_or_else(|| format!("`{path}` is empty"))?;
    let width = header.split(',').count();
    if width < 2 {
        return Err(format!(
            "`{path}`: the header has {width} column(s); expected features then a label"
        ));
    }
    let mut values = Vec::new();
    let mut y = Vec::new();
    for (index, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_number = index + 2;
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != width {
            return Err(format!(
                "`{path}` line {line_number}: {} fields, expected {width}",
                cells.len()
            ));
        }
        for cell in &cells[..width - 1] {
            let value: f32 = cell
                .trim()
                .parse()
                .map_err(|_| format!("`{path}` line {line_number}: `{cell}` is not a number"))?;
            values.push(value);
        }
        let label = cells[width - 1].trim();
        let class: usize = label.parse().map_err(|_| {
            format!("`{path}` line {line_number}: label `{label}` is not a class index (0, 1, …)")
        })?;
        y.push(class);
    }
    let x = Array2::from_shape_vec((y.len(), width - 1), values)
        .map_err(|e| format!("`{path}`: ragged rows: {e}"))?;
    Ok(Data { x, y })
}

/// `--name value` options after the mode.
struct Options {
    pairs: Vec<(String, String)>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        if !args.len().is_multiple_of(2) {
            return Err(format!(
                "options come in `--name value` pairs; got {args:?}"
            ));
        }
        let pairs = args
            .chunks(2)
            .map(|pair| match pair[0].strip_prefix("--") {
                Some(name) => Ok((name.to_string(), pair[1].clone())),
                None => Err(format!("expected an option `--name`, got `{}`", pair[0])),
            })
            .collect::<Result<_, _>>()?;
        Ok(Options { pairs })
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.text(name)
            .ok_or_else(|| format!("--{name} is required"))
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.text(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| format!("--{name} `{text}` is not a valid number")),
        }
    }

    /// `--init auto|glorot-uniform` (default `auto`, versa's own scheme).
    fn init(&self) -> Result<Initialization, String> {
        match self.text("init").unwrap_or("auto") {
            "auto" => Ok(Initialization::Auto),
            "glorot-uniform" | "glorot_uniform" => Ok(Initialization::GlorotUniform),
            other => Err(format!(
                "--init `{other}` is not a scheme; expected `auto` or `glorot-uniform`"
            )),
        }
    }

    fn config(&self, default_epochs: usize) -> Result<TrainConfig, String> {
        let hidden = self
            .text("hidden")
            .unwrap_or("64,32")
            .split(',')
            .map(|w| {
                w.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("--hidden `{w}` is not a width"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let config = TrainConfig {
            hidden,
            activation: Activation::Relu,
            optimizer: Optimizer::ADAM,
            learning_rate: self.number("lr", 1e-3)?,
            weight_decay: self.number("alpha", 1e-4)?,
            batch_size: self.number("batch", 64)?,
            epochs: self.number("epochs", default_epochs)?,
            seed: self.number("seed", 0)?,
            init: self.init()?,
            early_stopping: None,
            class_weights: None,
        };
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

fn n_classes(y: &[usize]) -> usize {
    y.iter().copied().max().map_or(0, |m| m + 1).max(2)
}

fn fit(data: &Data, config: &TrainConfig) -> Result<(Mlp, f64), String> {
    let started = Instant::now();
    let outcome = train(
        data.x.view(),
        &data.y,
        None,
        n_classes(&data.y),
        config,
        &mut |_| ControlFlow::Continue(()),
    )
    .map_err(|e| e.to_string())?;
    Ok((outcome.model, started.elapsed().as_secs_f64()))
}

fn accuracy(options: &Options) -> Result<serde_json::Value, String> {
    let train_data = read_csv(options.required("train")?)?;
    let test_data = read_csv(options.required("test")?)?;
    let config = options.config(30)?;
    let (model, seconds) = fit(&train_data, &config)?;
    if test_data.x.ncols() != model.input_dim() {
        return Err(format!(
            "the test file has {} features, the training file {}",
            test_data.x.ncols(),
            model.input_dim()
        ));
    }
    let predicted = model.predict(test_data.x.view());
    let correct = predicted
        .iter()
        .zip(&test_data.y)
        .filter(|(p, y)| p == y)
        .count();
    Ok(serde_json::json!({
        "engine": "versa",
        "train_rows": train_data.y.len(),
        "test_rows": test_data.y.len(),
        "params": config.to_params(),
        "train_seconds": seconds,
        "accuracy": correct as f64 / test_data.y.len() as f64,
    }))
}

fn speed(options: &Options) -> Result<serde_json::Value, String> {
    let data = read_csv(options.required("train")?)?;
    let config = options.config(5)?;
    let (model, seconds) = fit(&data, &config)?;
    let samples = (data.y.len() * config.epochs) as f64;

    // Single-row latency: every call goes through the serving path with one
    // reused scratch, cycling over real rows so the input is not constant.
    let n_single: usize = options.number("single-rows", 50_000)?;
    let mut scratch = RowScratch::new(&model);
    let mut out = vec![0.0f32; model.n_classes()];
    let mut checksum = 0.0f64;
    let rows = data.x.nrows();
    let flat = data
        .x
        .as_slice()
        .ok_or("a freshly built matrix is in standard layout")?;
    let width = data.x.ncols();
    let mut started = Instant::now();
    // The first 1000 calls warm the caches and are not counted.
    for i in 0..n_single + 1000 {
        if i == 1000 {
            started = Instant::now();
        }
        let row = i % rows;
        model.predict_proba_row(
            &flat[row * width..(row + 1) * width],
            &mut scratch,
            &mut out,
        );
        checksum += f64::from(out[0]);
    }
    let single_seconds = started.elapsed().as_secs_f64();

    // 1024-row batches through the GEMM path.
    let n_batches: usize = options.number("batches", 200)?;
    let batch_rows = 1024.min(rows);
    let started = Instant::now();
    for b in 0..n_batches {
        let start = (b * batch_rows) % (rows - batch_rows + 1);
        let probabilities = model.predict_proba(
            data.x
                .slice_axis(Axis(0), Slice::from(start..start + batch_rows)),
        );
        checksum += f64::from(probabilities.index_axis(Axis(0), 0)[0]);
    }
    let batch_seconds = started.elapsed().as_secs_f64();

    Ok(serde_json::json!({
        "engine": "versa",
        "threads": 1,
        "rows": data.y.len(),
        "features": data.x.ncols(),
        "params": config.to_params(),
        "train_seconds": seconds,
        "train_samples_per_second": samples / seconds,
        "single_row_calls": n_single,
        "single_row_microseconds": single_seconds / n_single as f64 * 1e6,
        "batch_rows": batch_rows,
        "batches": n_batches,
        "batch_microseconds": batch_seconds / n_batches as f64 * 1e6,
        // Printed so the optimiser cannot drop the inference loops.
        "checksum": checksum,
    }))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench_train accuracy|speed --train FILE [--test FILE] [--name value]…";
    let Some((mode, rest)) = args.split_first() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let result = Options::parse(rest).and_then(|options| match mode.as_str() {
        "accuracy" => accuracy(&options),
        "speed" => speed(&options),
        other => Err(format!("unknown mode `{other}`; {usage}")),
    });
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
