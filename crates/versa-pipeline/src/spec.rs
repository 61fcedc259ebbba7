//! `versa.toml`: the declarative pipeline spec — which data file, how to
//! prepare it, which variants to train, which metrics to compare and how to
//! deploy — parsed with every mistake reported at its TOML line and column.
//!
//! Knows only the text of the spec; it never opens files, the catalog or
//! blobs. The runner (`run.rs`) turns a [`PipelineSpec`] into stages.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use versa_mlp::{Activation, EarlyStopping, Initialization, Optimizer, TrainConfig};
use versa_tabular::expr::DerivedFeature;
use versa_tabular::split::SplitFractions;
use versa_tabular::transform::TransformSpec;

/// The metrics a spec may name, all computed on the held-out test rows.
pub const METRICS: [&str; 6] = [
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
];

/// A spec that cannot be used, with where in the file it went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", location.map(|(l, c)| format!("line {l}, column {c}: ")).unwrap_or_default())]
pub struct SpecError {
    /// 1-based line and column, when the mistake has a place in the text.
    pub location: Option<(usize, usize)>,
    /// What was wrong and what would be accepted.
    pub message: String,
}

/// `[data]`: the file to ingest and what to call it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Path of the CSV or Parquet file, relative to the spec's directory.
    pub path: String,
    /// Dataset name to register versions under.
    pub name: String,
    /// The label column.
    pub label: String,
}

/// `[split]`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitSpec {
    /// Share of rows for validation.
    pub validation: f64,
    /// Share of rows held out for testing.
    pub test: f64,
    /// Seed of the split (and the default training seed).
    pub seed: u64,
}

impl Default for SplitSpec {
    fn default() -> Self {
        SplitSpec {
            validation: 0.2,
            test: 0.2,
            seed: 42,
        }
    }
}

/// Activation names as written in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivationName {
    /// max(0, x)
    Relu,
    /// tanh
    Tanh,
    /// 1 / (1 + e^-x)
    Logistic,
}

/// `[variants.NAME]`: one model version per variant (Adam optimiser).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Hidden layer widths, input side first.
    pub hidden: Vec<usize>,
    /// Training epochs (the maximum, with early stopping).
    pub epochs: usize,
    /// Adam learning rate.
    #[serde(default = "default_learning_rate", alias = "lr")]
    pub learning_rate: f64,
    /// L2 penalty.
    #[serde(default = "default_weight_decay")]
    pub weight_decay: f64,
    /// Mini-batch size.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Activation of the hidden layers.
    #[serde(default = "default_activation")]
    pub activation: ActivationName,
    /// Training seed; the split's seed when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Turns on early stopping on the validation loss.
    #[serde(default)]
    pub patience: Option<usize>,
    /// Smallest validation-loss decrease that counts.
    #[serde(default)]
    pub min_delta: Option<f64>,
    /// What makes this variant different, in words.
    #[serde(default)]
    pub description: String,
}

fn default_learning_rate() -> f64 {
    TrainConfig::default().learning_rate
}
fn default_weight_decay() -> f64 {
    TrainConfig::default().weight_decay
}
fn default_batch_size() -> usize {
    TrainConfig::default().batch_size
}
fn default_activation() -> ActivationName {
    ActivationName::Relu
}

impl VariantSpec {
    /// The engine configuration this variant trains with.
    pub fn train_config(&self, split_seed: u64) -> TrainConfig {
        TrainConfig {
            hidden: self.hidden.clone(),
            activation: match self.activation {
                ActivationName::Relu => Activation::Relu,
                ActivationName::Tanh => Activation::Tanh,
                ActivationName::Logistic => Activation::Logistic,
            },
            optimizer: Optimizer::ADAM,
            learning_rate: self.learning_rate,
            weight_decay: self.weight_decay,
            batch_size: self.batch_size,
            epochs: self.epochs,
            seed: self.seed.unwrap_or(split_seed),
            init: Initialization::Auto,
            early_stopping: self.patience.map(|patience| EarlyStopping {
                patience,
                min_delta: self.min_delta.unwrap_or(1e-4),
            }),
            class_weights: None,
        }
    }
}

/// `[evaluate]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateSpec {
    /// Metrics to report, from [`METRICS`].
    pub metrics: Vec<String>,
}

impl Default for EvaluateSpec {
    fn default() -> Self {
        EvaluateSpec {
            metrics: vec!["accuracy".to_string()],
        }
    }
}

/// `[deploy]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySpec {
    /// Registered model name the variants become versions of.
    pub model: String,
    /// Alias moved to the winner.
    pub alias: String,
    /// Metric deciding the winner (one of `[evaluate] metrics`).
    pub metric: String,
    /// How much the winner must beat the current target by.
    #[serde(default)]
    pub min_improvement: f64,
    /// Variants allowed to win; all when absent.
    #[serde(default)]
    pub candidates: Option<Vec<String>>,
}

/// A parsed and checked `versa.toml`.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineSpec {
    /// `[data]`.
    pub data: DataSpec,
    /// `[preprocess]` with `[features]` merged into its derived features.
    pub transform: TransformSpec,
    /// `[split]`.
    pub split: SplitSpec,
    /// `[variants.*]`, by name.
    pub variants: BTreeMap<String, VariantSpec>,
    /// `[evaluate]`.
    pub evaluate: EvaluateSpec,
    /// `[deploy]`.
    pub deploy: DeploySpec,
}

impl PipelineSpec {
    /// The split fractions.
    pub fn fractions(&self) -> SplitFractions {
        SplitFractions {
            validation: self.split.validation,
            test: self.split.test,
        }
    }
}

// The raw document; spanned where a later check must point back into the text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    data: DataSpec,
    #[serde(default)]
    preprocess: TransformSpec,
    /// In declaration order (toml's `preserve_order`): derived features
    /// become model inputs in the order the user wrote them.
    #[serde(default)]
    features: toml::Table,
    #[serde(default)]
    split: SplitSpec,
    variants: BTreeMap<String, VariantSpec>,
    #[serde(default)]
    evaluate: RawEvaluate,
    deploy: RawDeploy,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEvaluate {
    #[serde(default)]
    metrics: Option<toml::Spanned<Vec<toml::Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeploy {
    model: String,
    alias: String,
    metric: toml::Spanned<String>,
    #[serde(default)]
    min_improvement: f64,
    #[serde(default)]
    candidates: Option<Vec<toml::Spanned<String>>>,
}

/// Parses `text` (a `versa.toml`), then applies `overrides` (`variant.key=value`,
/// as given to `versa run -S`), and checks the result.
pub fn parse_spec(text: &str, overrides: &[String]) -> Result<PipelineSpec, SpecError> {
    let raw: RawSpec = toml::from_str(text).map_err(|e| from_toml(text, &e))?;
    let mut spec = check(text, raw)?;
    if overrides.is_empty() {
        return Ok(spec);
    }
    for assignment in overrides {
        apply_override(&mut spec, assignment)?;
    }
    Ok(spec)
}

fn apply_override(spec: &mut PipelineSpec, assignment: &str) -> Result<(), SpecError> {
    let fail = |message: String| SpecError {
        location: None,
        message: format!("-S {assignment}: {message}"),
    };
    let (path, value) = assignment
        .split_once('=')
        .ok_or_else(|| fail("expected VARIANT.KEY=VALUE, such as v2.epochs=3".into()))?;
    let (variant, key) = path
        .trim()
        .split_once('.')
        .ok_or_else(|| fail("expected VARIANT.KEY=VALUE, such as v2.epochs=3".into()))?;
    let current = spec.variants.get(variant).ok_or_else(|| {
        fail(format!(
            "no variant `{variant}`; the spec has {}",
            quoted(spec.variants.keys())
        ))
    })?;
    let mut table =
        toml::Table::try_from(current).map_err(|e| fail(format!("cannot restate variant: {e}")))?;
    let parsed: toml::Value = match format!("v = {}", value.trim()).parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(value.into())),
        Err(_) => toml::Value::String(value.trim().to_string()),
    };
    table.insert(key.trim().to_string(), parsed);
    let updated: VariantSpec = table.try_into().map_err(|e: toml::de::Error| {
        fail(with_suggestion(e.message()).unwrap_or_else(|| e.message().trim().to_string()))
    })?;
    spec.variants.insert(variant.to_string(), updated);
    Ok(())
}

fn check(text: &str, raw: RawSpec) -> Result<PipelineSpec, SpecError> {
    let at = |span: Range<usize>, message: String| SpecError {
        location: Some(line_column(text, span.start)),
        message,
    };
    if raw.variants.is_empty() {
        return Err(SpecError {
            location: None,
            message: "no variants: add at least one table such as [variants.v1] with hidden = [8] and epochs = 5".into(),
        });
    }
    let split = raw.split;
    for (key, value) in [("validation", split.validation), ("test", split.test)] {
        if !(value.is_finite() && (0.0..1.0).contains(&value)) {
            return Err(SpecError {
                location: None,
                message: format!(
                    "[split] {key} is {value}; it must be at least 0 and below 1, such as 0.2"
                ),
            });
        }
    }
    if split.validation + split.test >= 1.0 {
        return Err(SpecError {
            location: None,
            message: "[split] validation + test leave no training rows; their sum must be below 1"
                .into(),
        });
    }
    let metrics: Vec<toml::Spanned<String>> = match raw.evaluate.metrics {
        Some(list) => list.into_inner(),
        None => Vec::new(),
    };
    for metric in &metrics {
        if !METRICS.contains(&metric.get_ref().as_str()) {
            return Err(at(
                metric.span(),
                format!(
                    "unknown metric `{}` in [evaluate] metrics{}; accepted: {}",
                    metric.get_ref(),
                    suggest(metric.get_ref(), METRICS.iter().copied()),
                    quoted(METRICS.iter())
                ),
            ));
        }
    }
    let metric_names: Vec<String> = if metrics.is_empty() {
        EvaluateSpec::default().metrics
    } else {
        metrics.iter().map(|m| m.get_ref().clone()).collect()
    };
    let deploy = raw.deploy;
    if !metric_names.contains(deploy.metric.get_ref()) {
        return Err(at(
            deploy.metric.span(),
            format!(
                "[deploy] metric `{}` is not among [evaluate] metrics ({}); add it there or pick one of those",
                deploy.metric.get_ref(),
                quoted(metric_names.iter())
            ),
        ));
    }
    let candidates = match deploy.candidates {
        Some(list) => {
            for candidate in &list {
                if !raw.variants.contains_key(candidate.get_ref()) {
                    return Err(at(
                        candidate.span(),
                        format!(
                            "[deploy] candidates names variant `{}`, which is not defined{}; defined: {}",
                            candidate.get_ref(),
                            suggest(candidate.get_ref(), raw.variants.keys().map(String::as_str)),
                            quoted(raw.variants.keys())
                        ),
                    ));
                }
            }
            Some(list.into_iter().map(|c| c.into_inner()).collect())
        }
        None => None,
    };
    let mut transform = raw.preprocess;
    if !raw.features.is_empty() {
        if !transform.features.is_empty() {
            return Err(SpecError {
                location: None,
                message: "derived features are given both in [features] and in [preprocess] features; keep one".into(),
            });
        }
        transform.features = raw
            .features
            .into_iter()
            .map(|(name, expression)| match expression {
                toml::Value::String(expression) => Ok(DerivedFeature { name, expression }),
                other => Err(SpecError {
                    location: None,
                    message: format!(
                        "[features] `{name}` must be a string holding an SQL expression, \
                         e.g. {name} = \"debt / (income + 1)\"; got a {}",
                        other.type_str()
                    ),
                }),
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(PipelineSpec {
        data: raw.data,
        transform,
        split,
        variants: raw.variants,
        evaluate: EvaluateSpec {
            metrics: metric_names,
        },
        deploy: DeploySpec {
            model: deploy.model,
            alias: deploy.alias,
            metric: deploy.metric.into_inner(),
            min_improvement: deploy.min_improvement,
            candidates,
        },
    })
}

fn from_toml(text: &str, error: &toml::de::Error) -> SpecError {
    let message = error.message().trim().to_string();
    SpecError {
        location: error.span().map(|span| line_column(text, span.start)),
        message: with_suggestion(&message).unwrap_or(message),
    }
}

/// Rewrites serde's "unknown field `x`, expected one of `a`, `b`" into
/// "unknown key `x`; did you mean `a`? accepted: …".
fn with_suggestion(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (unknown, rest) = rest.split_once('`')?;
    let accepted: Vec<&str> = rest
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    Some(format!(
        "unknown key `{unknown}`{}; accepted: {}",
        suggest(unknown, accepted.iter().copied()),
        quoted(accepted.iter())
    ))
}

fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

fn quoted<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// The churn example's spec, as `versa init --example churn` writes it.
pub const CHURN_EXAMPLE: &str = r#"# versa pipeline: data → prepare → train (each variant) → evaluate → deploy.
# `versa run` re-runs only the stages whose inputs changed; `versa status` says which.

[data]
path = "data/customers.csv"
name = "customers"
label = "churned"

[preprocess]
numeric = { impute = "mean", scale = "standard" }

[features]
debt_ratio = "debt / (income + 1)"
charges_per_tenure = "monthly_charges / (tenure_months + 1)"

[split]
validation = 0.2
test = 0.2
seed = 42

[variants.v1]
description = "baseline: one narrow hidden layer"
hidden = [8]
epochs = 5
learning_rate = 0.005

[variants.v2]
description = "improved: two wider hidden layers, L2, early stopping"
hidden = [64, 32]
epochs = 200
learning_rate = 0.001
weight_decay = 0.03
patience = 20

[evaluate]
metrics = ["accuracy", "f1", "roc_auc", "log_loss"]

[deploy]
model = "churn"
alias = "production"
metric = "accuracy"
min_improvement = 0.0
"#;

/// [`CHURN_EXAMPLE`] with its split (and so training) seed set to `seed`.
pub fn churn_example(seed: u64) -> String {
    CHURN_EXAMPLE.replacen("\nseed = 42\n", &format!("\nseed = {seed}\n"), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> SpecError {
        parse_spec(text, &[]).expect_err("spec should be rejected")
    }

    #[test]
    fn the_churn_example_takes_a_seed() {
        let spec = parse_spec(&churn_example(7), &[]).unwrap();
        assert_eq!(spec.split.seed, 7);
        assert_eq!(spec.variants["v2"].train_config(spec.split.seed).seed, 7);
    }

    #[test]
    fn derived_features_keep_their_declared_order() {
        let spec = parse_spec(CHURN_EXAMPLE, &[]).unwrap();
        let names: Vec<&str> = spec
            .transform
            .features
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["debt_ratio", "charges_per_tenure"]);
        let bad = CHURN_EXAMPLE.replace("debt_ratio = \"debt / (income + 1)\"", "debt_ratio = 3");
        let e = error(&bad);
        assert!(e.message.contains("`debt_ratio` must be a string"), "{e}");
    }

    #[test]
    fn the_churn_example_parses() {
        let spec = parse_spec(CHURN_EXAMPLE, &[]).unwrap();
        assert_eq!(spec.variants.len(), 2);
        assert_eq!(spec.transform.features.len(), 2);
        assert_eq!(spec.deploy.metric, "accuracy");
        assert_eq!(spec.variants["v1"].train_config(42).hidden, vec![8]);
    }

    #[test]
    fn unknown_keys_name_the_line_and_the_nearest_key() {
        let text = CHURN_EXAMPLE.replace("epochs = 5\n", "epoch = 5\n");
        let e = error(&text);
        let line = text.lines().position(|l| l == "epoch = 5").unwrap() + 1;
        assert_eq!(e.location.map(|l| l.0), Some(line), "{e}");
        assert!(e.message.contains("unknown key `epoch`"), "{e}");
        assert!(e.message.contains("did you mean `epochs`?"), "{e}");
    }

    #[test]
    fn type_errors_name_the_line() {
        let text = CHURN_EXAMPLE.replace("epochs = 5\n", "epochs = \"five\"\n");
        let e = error(&text);
        let line = text.lines().position(|l| l == "epochs = \"five\"").unwrap() + 1;
        assert_eq!(e.location.map(|l| l.0), Some(line), "{e}");
        assert!(e.message.contains("invalid type"), "{e}");
    }

    #[test]
    fn a_deploy_metric_must_be_evaluated() {
        let text = CHURN_EXAMPLE.replace("metric = \"accuracy\"", "metric = \"recall\"");
        let e = error(&text);
        let line = text
            .lines()
            .position(|l| l == "metric = \"recall\"")
            .unwrap()
            + 1;
        assert_eq!(e.location, Some((line, 10)), "{e}");
        assert!(e.message.contains("not among [evaluate] metrics"), "{e}");
    }

    #[test]
    fn unknown_metrics_and_candidates_are_refused_with_a_suggestion() {
        let text = CHURN_EXAMPLE.replace("\"roc_auc\"", "\"roc_aux\"");
        let e = error(&text);
        assert!(e.message.contains("did you mean `roc_auc`?"), "{e}");
        let text = CHURN_EXAMPLE.replace(
            "min_improvement = 0.0",
            "min_improvement = 0.0\ncandidates = [\"v1\", \"v3\"]",
        );
        let e = error(&text);
        assert!(
            e.message.contains("variant `v3`, which is not defined"),
            "{e}"
        );
        assert!(e.location.is_some(), "{e}");
    }

    #[test]
    fn overrides_change_one_variant_and_are_checked() {
        let spec = parse_spec(CHURN_EXAMPLE, &["v2.epochs=3".to_string()]).unwrap();
        assert_eq!(spec.variants["v2"].epochs, 3);
        assert_eq!(spec.variants["v1"].epochs, 5);
        let e = parse_spec(CHURN_EXAMPLE, &["v2.epoch=3".to_string()]).unwrap_err();
        assert!(e.message.contains("did you mean `epochs`?"), "{e}");
        let e = parse_spec(CHURN_EXAMPLE, &["v9.epochs=3".to_string()]).unwrap_err();
        assert!(e.message.contains("no variant `v9`"), "{e}");
    }
}
