//! `versa predict MODEL@ALIAS --input FILE`: predictions from the command line,
//! through the same validation and transform the server uses; with `--trace`,
//! one row followed layer by layer (raw fields → features → hidden layers →
//! softmax → class), to explain a prediction.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use versa_core::ModelRef;
use versa_pipeline::bundle::{FeatureValue, ModelBundle};

use crate::Global;
use crate::render::{self, num};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model version: `NAME@ALIAS` (e.g. `churn@production`) or `NAME/VERSION` (e.g. `churn/2`).
    model: String,
    /// Rows to predict: a .csv file with a header, or .json/.jsonl with objects of raw field → value.
    #[arg(long, short, value_name = "FILE")]
    input: PathBuf,
    /// Show how one row goes through the model, layer by layer, instead of predicting every row.
    #[arg(long)]
    trace: bool,
    /// The row to trace, counting from 1 (the first data row).
    #[arg(long, value_name = "N", requires = "trace", default_value_t = 1)]
    row: usize,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let reference = ModelRef::parse(&args.model)?;
    let mut rows = crate::rows::read_rows(&args.input)?;
    let workspace = super::open_workspace(global).await?;
    let bundle = ModelBundle::load(
        &workspace.catalog,
        &workspace.blobs,
        &reference.name,
        &reference.selector,
    )
    .await
    .with_context(|| format!("cannot load model `{reference}`"))?;
    // A file with the label column (such as the training data) is accepted:
    // the column is set aside rather than sent, since the model rejects it as input.
    let label_column = bundle.manifest.label_column.clone();
    let actual: Vec<Option<Json>> = rows
        .iter_mut()
        .map(|row| row.remove(&label_column))
        .collect();
    let has_label = actual.iter().any(Option::is_some);
    if args.trace {
        let actual = actual.get(args.row.wrapping_sub(1)).cloned().flatten();
        return trace(global, &bundle, &args.input, &rows, args.row, actual);
    }
    if has_label && !global.json {
        eprintln!("(column `{label_column}` is the label; it is not sent to the model)");
    }
    let mut predictions = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let prediction = bundle.predict_row(row).with_context(|| {
            format!(
                "row {} of `{}` is not valid input for {reference}",
                index + 1,
                args.input.display()
            )
        })?;
        predictions.push(prediction);
    }
    if global.json {
        return super::print_json(&serde_json::json!({
            "model": bundle.name,
            "version": bundle.version,
            "digest": bundle.manifest_digest,
            "predictions": predictions,
        }));
    }
    eprintln!(
        "{reference} → {} v{} ({})",
        bundle.name,
        bundle.version,
        bundle.manifest_digest.short()
    );
    let labels = &bundle.manifest.class_labels;
    let mut header = vec!["row".to_string(), "prediction".to_string()];
    header.extend(labels.iter().map(|l| format!("P({l})")));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = render::table(&header);
    for (index, prediction) in predictions.iter().enumerate() {
        let mut cells = vec![num(index + 1), prediction.label.clone().into()];
        for label in labels {
            cells.push(num(format!(
                "{:.4}",
                prediction.probabilities.get(label).copied().unwrap_or(0.0)
            )));
        }
        table.add_row(cells);
    }
    println!("{table}");
    Ok(())
}

/// Units listed per hidden layer in the trace: the strongest few say more than all 64.
const TOP_UNITS: usize = 5;

/// One hidden unit's output.
#[derive(Debug, Serialize)]
struct UnitValue {
    /// 0-based unit index within the layer.
    unit: usize,
    value: f32,
}

#[derive(Debug, Serialize)]
struct LayerOutput {
    name: String,
    activation: &'static str,
    n_units: usize,
    n_active: usize,
    /// The largest outputs, largest first.
    top_units: Vec<UnitValue>,
    values: Vec<f32>,
}

#[derive(Debug, Serialize)]
struct LabelOutput {
    column: String,
    /// The row's value of the label column, if the file has one (set aside, not a model input).
    actual: Option<Json>,
}

/// The `--trace --json` document.
#[derive(Debug, Serialize)]
struct TraceOutput<'a> {
    model: String,
    version: u32,
    digest: String,
    input_file: String,
    /// 1-based row number in the input file.
    row: usize,
    /// The raw fields the model reads, in its input schema's order (null: missing).
    input: Map<String, Json>,
    /// Fields of the row the model does not read.
    ignored_fields: Vec<String>,
    /// The label column, and its value in the row when the file has it.
    label: LabelOutput,
    features: &'a [FeatureValue],
    hidden_layers: Vec<LayerOutput>,
    probabilities: &'a std::collections::BTreeMap<String, f32>,
    predicted_class: &'a str,
}

/// Traces row `row` (1-based) of `rows` through `bundle` and prints the layers.
fn trace(
    global: &Global,
    bundle: &ModelBundle,
    input: &std::path::Path,
    rows: &[Map<String, Json>],
    row: usize,
    actual: Option<Json>,
) -> Result<()> {
    if row == 0 || row > rows.len() {
        bail!(
            "--row {row} is out of range: `{}` has {} data row(s); choose a row from 1 to {}",
            input.display(),
            rows.len(),
            rows.len()
        );
    }
    let raw = &rows[row - 1];
    let traced = bundle.trace_row(raw).with_context(|| {
        format!(
            "row {row} of `{}` is not valid input for {} v{}",
            input.display(),
            bundle.name,
            bundle.version
        )
    })?;
    let schema = bundle.transform.input_schema();
    let input_fields: Map<String, Json> = schema
        .iter()
        .map(|column| {
            (
                column.name.clone(),
                raw.get(&column.name).cloned().unwrap_or(Json::Null),
            )
        })
        .collect();
    let ignored_fields: Vec<String> = raw
        .keys()
        .filter(|key| !schema.iter().any(|column| &column.name == *key))
        .cloned()
        .collect();
    let hidden_layers: Vec<LayerOutput> = traced
        .network
        .layers
        .iter()
        .map(|layer| {
            let mut order: Vec<usize> = (0..layer.values.len()).collect();
            // Stable sort: equal values keep unit order, so the listing is deterministic.
            order.sort_by(|&a, &b| layer.values[b].total_cmp(&layer.values[a]));
            LayerOutput {
                name: layer.name.clone(),
                activation: layer.activation.name(),
                n_units: layer.values.len(),
                n_active: layer.n_active,
                top_units: order
                    .into_iter()
                    .take(TOP_UNITS)
                    .map(|unit| UnitValue {
                        unit,
                        value: layer.values[unit],
                    })
                    .collect(),
                values: layer.values.clone(),
            }
        })
        .collect();
    let output = TraceOutput {
        model: bundle.name.to_string(),
        version: bundle.version,
        digest: bundle.manifest_digest.to_string(),
        input_file: input.display().to_string(),
        row,
        input: input_fields,
        ignored_fields,
        label: LabelOutput {
            column: bundle.manifest.label_column.clone(),
            actual,
        },
        features: &traced.features,
        hidden_layers,
        probabilities: &traced.prediction.probabilities,
        predicted_class: &traced.prediction.label,
    };
    if global.json {
        return super::print_json(&output);
    }
    print_trace(&output);
    Ok(())
}

fn print_trace(output: &TraceOutput<'_>) {
    let n_steps = output.hidden_layers.len() + 4;
    println!(
        "{} v{} ({}) · row {} of {}",
        output.model,
        output.version,
        &output.digest[..output.digest.len().min(15)],
        output.row,
        output.input_file
    );

    println!("\n[1/{n_steps}] raw input · {} fields", output.input.len());
    let mut table = render::table(&["field", "value"]);
    for (name, value) in &output.input {
        let shown = match value {
            Json::Null => "— (missing: imputed)".to_string(),
            Json::String(text) => text.clone(),
            other => other.to_string(),
        };
        table.add_row(vec![name.clone().into(), num(shown)]);
    }
    println!("{table}");
    if !output.ignored_fields.is_empty() {
        println!(
            "ignored (not model inputs): {}",
            output.ignored_fields.join(", ")
        );
    }

    println!(
        "\n[2/{n_steps}] transformed features · {} values (imputed, derived, scaled, one-hot)",
        output.features.len()
    );
    let mut table = render::table(&["feature", "value"]);
    for feature in output.features {
        table.add_row(vec![
            feature.name.clone().into(),
            num(format!("{:.4}", feature.value)),
        ]);
    }
    println!("{table}");

    for (index, layer) in output.hidden_layers.iter().enumerate() {
        let top: Vec<String> = layer
            .top_units
            .iter()
            .map(|u| format!("#{} {:.3}", u.unit, u.value))
            .collect();
        println!(
            "\n[{}/{n_steps}] {} · {} · {}/{} units active · largest: {}",
            index + 3,
            layer.name,
            layer.activation,
            layer.n_active,
            layer.n_units,
            top.join(", ")
        );
    }

    println!("\n[{}/{n_steps}] softmax", n_steps - 1);
    let mut table = render::table(&["class", "probability"]);
    for (label, probability) in output.probabilities {
        table.add_row(vec![label.clone().into(), num(format!("{probability:.4}"))]);
    }
    println!("{table}");

    let confidence = output
        .probabilities
        .get(output.predicted_class)
        .copied()
        .unwrap_or(0.0);
    let actual = match &output.label.actual {
        Some(Json::String(value)) => format!(" · actual `{}`: {value}", output.label.column),
        Some(value) => format!(" · actual `{}`: {value}", output.label.column),
        None => String::new(),
    };
    println!(
        "\n[{n_steps}/{n_steps}] predicted class: {} (p = {confidence:.4}){actual}",
        output.predicted_class
    );
}
