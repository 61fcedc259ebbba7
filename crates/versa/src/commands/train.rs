//! `versa train`: one training run outside any pipeline — a registered dataset
//! version, prepared (split, fitted transform) and trained into the next
//! version of a model, with the live training trace.
//!
//! Settings come from three layers, later ones winning: versa's defaults, an
//! optional TOML file (`--config`), and command-line flags. This module only
//! assembles them and renders the result; preparing and training are
//! `versa_pipeline`'s, and it must not reach into the engine's internals.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use versa_core::{DatasetRef, Digest, ModelName};
use versa_mlp::{Activation, EarlyStopping, Initialization, Optimizer, TrainConfig};
use versa_pipeline::ingest::load_dataset;
use versa_pipeline::prepare::{PrepareConfig, prepare};
use versa_pipeline::train::{TrainedVersion, Variant, train_variant};
use versa_pipeline::{NoopObserver, Observer};
use versa_tabular::expr::DerivedFeature;
use versa_tabular::split::SplitFractions;
use versa_tabular::transform::TransformSpec;

use crate::Global;
use crate::render::{self, TerminalObserver, metrics_table, num};

/// Seed used when neither the config file nor `--seed` gives one (the quickstart's).
const DEFAULT_SEED: u64 = 42;
/// Validation and test shares when none are given (the quickstart's 600/200/200).
const DEFAULT_FRACTION: f64 = 0.2;
/// Smallest validation-loss decrease that counts for early stopping, unless configured.
const DEFAULT_MIN_DELTA: f64 = 1e-4;
/// SGD momentum when the optimizer is `sgd` and none is given.
const DEFAULT_MOMENTUM: f64 = 0.9;

const CONFIG_HELP: &str = "\
Settings are taken from versa's defaults, then the --config file, then the flags (flags win).

Defaults: hidden 64,32 · relu · adam (beta1 0.9, beta2 0.999, epsilon 1e-8) · learning rate 0.001 ·
weight decay (L2) 0.0001 · batch 64 · 50 epochs · seed 42 · init auto · no early stopping · validation 0.2 ·
test 0.2 · transform: mean imputation + standard scaling for numbers, most-frequent imputation +
one-hot for categories, no derived features.

The --config file (TOML; every section and key is optional, unknown keys are errors):

  [train]
  hidden = [64, 32]          # widths of the hidden layers, input side first; [] for none
  activation = \"relu\"        # relu | tanh | logistic
  optimizer = \"adam\"         # adam | sgd
  learning_rate = 0.001
  weight_decay = 0.0001      # L2 penalty (scikit-learn's alpha)
  batch_size = 64
  epochs = 50
  seed = 42                  # seeds the split, the initial weights and the shuffling
  init = \"auto\"              # auto (He-normal for relu, Glorot for tanh/logistic, zero biases)
                             # | glorot_uniform (scikit-learn's: weights and biases ±sqrt(6/(in+out)))
  patience = 10              # turns on early stopping on the validation loss
  min_delta = 0.0001         # smallest validation-loss decrease that counts (with patience)
  beta1 = 0.9                # adam only; also beta2, epsilon
  momentum = 0.9             # sgd only; also nesterov = true|false

  [split]
  validation = 0.2           # share of rows for validation (0 turns it off)
  test = 0.2                 # share of rows held out for the test metrics

  [preprocess]               # versa's transform spec
  numeric = { impute = \"median\", scale = \"standard\" }
  categorical = { impute = \"most_frequent\" }
  drop = [\"customer_id\"]
  columns.age = { clip = [18, 90] }

  [features]                 # derived features: name = \"SQL expression\" over raw columns
  debt_ratio = \"debt / (income + 1)\"

Example:
  versa train --data customers --label churned --model churn2 --hidden 32,16 --epochs 30 --patience 5";

#[derive(Debug, clap::Args)]
#[command(after_long_help = CONFIG_HELP)]
pub(crate) struct Args {
    /// The registered dataset: `NAME` (its newest version) or `NAME@VERSION`, e.g. `customers@1`.
    #[arg(long, value_name = "NAME[@VERSION]")]
    data: DatasetRef,
    /// The column to predict.
    #[arg(long, value_name = "COLUMN")]
    label: String,
    /// The model to add a version to (created on first use).
    #[arg(long, value_name = "MODEL")]
    model: ModelName,
    /// A TOML file with [train], [split], [preprocess] and [features] sections (see --help).
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Hidden layer widths, input side first, e.g. `64,32`; `none` for softmax regression.
    #[arg(long, value_name = "WIDTHS", value_parser = parse_hidden)]
    hidden: Option<HiddenLayers>,
    /// Passes over the training rows.
    #[arg(long, value_name = "N")]
    epochs: Option<usize>,
    /// Learning rate (step size).
    #[arg(long = "lr", value_name = "RATE")]
    learning_rate: Option<f64>,
    /// Rows per mini-batch.
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
    /// Seed of the split, the initial weights and the shuffling.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Activation of every hidden layer.
    #[arg(long, value_enum)]
    activation: Option<ActivationName>,
    /// Update rule.
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerName>,
    /// Initial weights: `auto` (He-normal for relu, Glorot-uniform otherwise, zero biases)
    /// or `glorot-uniform` (scikit-learn's scheme, biases too).
    #[arg(long, value_enum)]
    init: Option<InitName>,
    /// L2 penalty strength (scikit-learn's alpha).
    #[arg(long, value_name = "X")]
    weight_decay: Option<f64>,
    /// Stop after N epochs without validation-loss improvement, keeping the best weights.
    #[arg(long, value_name = "N")]
    patience: Option<usize>,
    /// Share of rows used for validation (the live trace and early stopping).
    #[arg(long, value_name = "F")]
    val_fraction: Option<f64>,
    /// Share of rows held out for the test metrics.
    #[arg(long, value_name = "F")]
    test_fraction: Option<f64>,
    /// A note stored on the model version (default: a summary of the settings).
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
}

/// Hidden layer widths as given on the command line.
#[derive(Debug, Clone)]
struct HiddenLayers(Vec<usize>);

fn parse_hidden(text: &str) -> Result<HiddenLayers, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("none") {
        return Ok(HiddenLayers(Vec::new()));
    }
    trimmed
        .split(',')
        .enumerate()
        .map(|(position, part)| match part.trim().parse::<usize>() {
            Ok(width) if width > 0 => Ok(width),
            _ => Err(format!(
                "layer {} is `{}`; expected comma-separated widths of at least 1, such as `64,32` (or `none`)",
                position + 1,
                part.trim()
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(HiddenLayers)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ActivationName {
    Relu,
    Tanh,
    Logistic,
}

impl From<ActivationName> for Activation {
    fn from(name: ActivationName) -> Activation {
        match name {
            ActivationName::Relu => Activation::Relu,
            ActivationName::Tanh => Activation::Tanh,
            ActivationName::Logistic => Activation::Logistic,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OptimizerName {
    Adam,
    Sgd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
enum InitName {
    Auto,
    // The flag spells it with a hyphen; accept that spelling in the file too.
    #[serde(alias = "glorot-uniform")]
    GlorotUniform,
}

impl From<InitName> for Initialization {
    fn from(name: InitName) -> Initialization {
        match name {
            InitName::Auto => Initialization::Auto,
            InitName::GlorotUniform => Initialization::GlorotUniform,
        }
    }
}

/// The `--config` file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    train: TrainSection,
    split: SplitSection,
    preprocess: TransformSpec,
    features: Option<FeatureTable>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TrainSection {
    hidden: Option<Vec<usize>>,
    activation: Option<ActivationName>,
    optimizer: Option<OptimizerName>,
    learning_rate: Option<f64>,
    weight_decay: Option<f64>,
    batch_size: Option<usize>,
    epochs: Option<usize>,
    seed: Option<u64>,
    init: Option<InitName>,
    patience: Option<usize>,
    min_delta: Option<f64>,
    beta1: Option<f64>,
    beta2: Option<f64>,
    epsilon: Option<f64>,
    momentum: Option<f64>,
    nesterov: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SplitSection {
    validation: Option<f64>,
    test: Option<f64>,
}

/// `[features]`: a table of `name = "expression"`, or a list of `{name, expression}`.
#[derive(Debug, Default)]
struct FeatureTable(Vec<DerivedFeature>);

impl<'de> Deserialize<'de> for FeatureTable {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Features;

        impl<'de> serde::de::Visitor<'de> for Features {
            type Value = FeatureTable;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table of name = \"expression\" or a list of {name, expression}")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<FeatureTable, A::Error> {
                let mut features = Vec::new();
                while let Some((name, expression)) = map.next_entry::<String, String>()? {
                    features.push(DerivedFeature { name, expression });
                }
                Ok(FeatureTable(features))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FeatureTable, A::Error> {
                let mut features = Vec::new();
                while let Some(feature) = seq.next_element::<DerivedFeature>()? {
                    features.push(feature);
                }
                Ok(FeatureTable(features))
            }
        }

        deserializer.deserialize_any(Features)
    }
}

fn read_config(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config `{}`", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config `{}` is not valid", path.display()))
}

/// Everything a run needs, after defaults, the config file and the flags are merged.
#[derive(Debug)]
struct Settings {
    train: TrainConfig,
    fractions: SplitFractions,
    transform: TransformSpec,
}

fn settings(args: &Args, file: ConfigFile) -> Result<Settings> {
    let ConfigFile {
        train: section,
        split,
        preprocess,
        features,
    } = file;
    let defaults = TrainConfig::default();
    let optimizer_name = args
        .optimizer
        .or(section.optimizer)
        .unwrap_or(match defaults.optimizer {
            Optimizer::Sgd { .. } => OptimizerName::Sgd,
            Optimizer::Adam { .. } => OptimizerName::Adam,
        });
    let optimizer = match optimizer_name {
        OptimizerName::Adam => {
            if let Some(key) = [
                ("momentum", section.momentum.is_some()),
                ("nesterov", section.nesterov.is_some()),
            ]
            .iter()
            .find_map(|(key, set)| set.then_some(key))
            {
                bail!(
                    "[train] {key} applies to optimizer `sgd` only, but the optimizer is `adam`; remove it or set optimizer = \"sgd\""
                );
            }
            let Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
            } = Optimizer::ADAM
            else {
                unreachable!("Optimizer::ADAM is Adam")
            };
            Optimizer::Adam {
                beta1: section.beta1.unwrap_or(beta1),
                beta2: section.beta2.unwrap_or(beta2),
                epsilon: section.epsilon.unwrap_or(epsilon),
            }
        }
        OptimizerName::Sgd => {
            if let Some(key) = [
                ("beta1", section.beta1.is_some()),
                ("beta2", section.beta2.is_some()),
                ("epsilon", section.epsilon.is_some()),
            ]
            .iter()
            .find_map(|(key, set)| set.then_some(key))
            {
                bail!(
                    "[train] {key} applies to optimizer `adam` only, but the optimizer is `sgd`; remove it or set optimizer = \"adam\""
                );
            }
            Optimizer::Sgd {
                momentum: section.momentum.unwrap_or(DEFAULT_MOMENTUM),
                nesterov: section.nesterov.unwrap_or(false),
            }
        }
    };
    let patience = args.patience.or(section.patience);
    let early_stopping = match (patience, section.min_delta) {
        (Some(patience), min_delta) => Some(EarlyStopping {
            patience,
            min_delta: min_delta.unwrap_or(DEFAULT_MIN_DELTA),
        }),
        (None, Some(_)) => bail!(
            "[train] min_delta is set but early stopping is off; also set patience (or --patience N)"
        ),
        (None, None) => None,
    };
    let train = TrainConfig {
        hidden: args
            .hidden
            .clone()
            .map(|h| h.0)
            .or(section.hidden)
            .unwrap_or(defaults.hidden),
        activation: args
            .activation
            .or(section.activation)
            .map_or(defaults.activation, Activation::from),
        optimizer,
        learning_rate: args
            .learning_rate
            .or(section.learning_rate)
            .unwrap_or(defaults.learning_rate),
        weight_decay: args
            .weight_decay
            .or(section.weight_decay)
            .unwrap_or(defaults.weight_decay),
        batch_size: args
            .batch_size
            .or(section.batch_size)
            .unwrap_or(defaults.batch_size),
        epochs: args.epochs.or(section.epochs).unwrap_or(defaults.epochs),
        seed: args.seed.or(section.seed).unwrap_or(DEFAULT_SEED),
        init: args
            .init
            .or(section.init)
            .map_or(defaults.init, Initialization::from),
        early_stopping,
        class_weights: None,
    };
    train
        .validate()
        .context("the training settings are not valid")?;
    let fractions = SplitFractions {
        validation: args
            .val_fraction
            .or(split.validation)
            .unwrap_or(DEFAULT_FRACTION),
        test: args
            .test_fraction
            .or(split.test)
            .unwrap_or(DEFAULT_FRACTION),
    };
    for (flag, value) in [
        ("--val-fraction", fractions.validation),
        ("--test-fraction", fractions.test),
    ] {
        if !(value.is_finite() && (0.0..1.0).contains(&value)) {
            bail!("{flag} is {value}; it must be at least 0 and below 1, such as 0.2");
        }
    }
    if fractions.validation + fractions.test >= 1.0 {
        bail!(
            "validation {} + test {} leave no rows for training; their sum must be below 1, such as 0.2 + 0.2",
            fractions.validation,
            fractions.test
        );
    }
    if train.early_stopping.is_some() && fractions.validation == 0.0 {
        bail!(
            "early stopping (patience) watches the validation loss, but the validation fraction is 0; set --val-fraction above 0 or drop --patience"
        );
    }
    let mut transform = preprocess;
    if let Some(FeatureTable(derived)) = features {
        if !transform.features.is_empty() {
            bail!(
                "derived features are given both in [features] and in [preprocess] features; keep one"
            );
        }
        transform.features = derived;
    }
    Ok(Settings {
        train,
        fractions,
        transform,
    })
}

fn describe(config: &TrainConfig) -> String {
    let hidden = if config.hidden.is_empty() {
        "no hidden layers".to_string()
    } else {
        format!(
            "hidden {}",
            config
                .hidden
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let stopping = match &config.early_stopping {
        Some(early) => format!(", early stopping (patience {})", early.patience),
        None => String::new(),
    };
    // Only a non-default scheme is worth a word in the note.
    let init = match config.init {
        Initialization::Auto => String::new(),
        other => format!(" · init {}", other.name()),
    };
    format!(
        "{hidden} {} · {} lr {} · L2 {} · batch {} · {} epochs{stopping} · seed {}{init}",
        config.activation.name(),
        config.optimizer.name(),
        config.learning_rate,
        config.weight_decay,
        config.batch_size,
        config.epochs,
        config.seed
    )
}

#[derive(Debug, Serialize)]
struct DatasetOutput {
    name: String,
    version: u32,
    content_digest: Digest,
    manifest_digest: Digest,
    n_rows: usize,
    n_columns: usize,
}

#[derive(Debug, Serialize)]
struct SplitOutput {
    digest: Digest,
    train: usize,
    validation: usize,
    test: usize,
}

#[derive(Debug, Serialize)]
struct TransformOutput {
    digest: Digest,
    derived_features: Vec<DerivedFeature>,
    feature_names: Vec<String>,
}

/// The `--json` document: the trained version, plus what it was trained on.
#[derive(Debug, Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    trained: &'a TrainedVersion,
    label: String,
    classes: Vec<String>,
    dataset: DatasetOutput,
    split: SplitOutput,
    transform: TransformOutput,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let file = match &args.config {
        Some(path) => read_config(path)?,
        None => ConfigFile::default(),
    };
    let settings = settings(&args, file)?;
    let workspace = super::open_workspace(global).await?;
    let reference = &args.data;
    let version = workspace
        .catalog
        .dataset(&reference.name, reference.version)
        .await
        .with_context(|| format!("cannot train on dataset `{reference}`"))?;
    let dataset = load_dataset(&workspace, &version.manifest_digest)
        .await
        .with_context(|| {
            format!(
                "cannot load dataset `{}@{}` from the blob store",
                version.name, version.version
            )
        })?;
    let columns: Vec<&str> = dataset
        .table
        .schema()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if !columns.contains(&args.label.as_str()) {
        bail!(
            "label `{}` is not a column of dataset `{}@{}`; its columns are: {}",
            args.label,
            version.name,
            version.version,
            columns.join(", ")
        );
    }
    let prepared = prepare(
        &workspace,
        &dataset,
        &PrepareConfig {
            label: args.label.clone(),
            transform: settings.transform.clone(),
            fractions: settings.fractions,
            seed: settings.train.seed,
        },
    )
    .await
    .with_context(|| {
        format!(
            "cannot prepare dataset `{}@{}` with label `{}`",
            version.name, version.version, args.label
        )
    })?;
    let variant = Variant {
        name: "train".to_string(),
        description: args
            .description
            .clone()
            .unwrap_or_else(|| describe(&settings.train)),
        config: settings.train.clone(),
    };
    if !global.json {
        eprintln!(
            "dataset {}@{} · {} rows × {} columns · label `{}` ({} classes: {})",
            version.name,
            version.version,
            dataset.table.n_rows(),
            dataset.table.n_columns(),
            args.label,
            prepared.classes.len(),
            prepared.classes.join(", ")
        );
        eprintln!(
            "split {}/{}/{} (train/validation/test) · transform {} · {} features",
            prepared.train.rows.len(),
            prepared.validation.rows.len(),
            prepared.test.rows.len(),
            prepared.transform_digest.short(),
            prepared.transform.n_features()
        );
        eprintln!("training {} · {}", args.model, describe(&settings.train));
    }
    let mut terminal = TerminalObserver::new();
    let mut quiet = NoopObserver;
    let observer: &mut dyn Observer = if global.json {
        &mut quiet
    } else {
        &mut terminal
    };
    let trained = train_variant(
        &workspace,
        &prepared,
        version.content_digest,
        &args.model,
        &variant,
        observer,
    )
    .await
    .with_context(|| format!("training model `{}` failed", args.model))?;
    if global.json {
        return super::print_json(&Output {
            trained: &trained,
            label: args.label.clone(),
            classes: prepared.classes.clone(),
            dataset: DatasetOutput {
                name: version.name.to_string(),
                version: version.version,
                content_digest: version.content_digest,
                manifest_digest: version.manifest_digest,
                n_rows: dataset.table.n_rows(),
                n_columns: dataset.table.n_columns(),
            },
            split: SplitOutput {
                digest: prepared.split_digest,
                train: prepared.train.rows.len(),
                validation: prepared.validation.rows.len(),
                test: prepared.test.rows.len(),
            },
            transform: TransformOutput {
                digest: prepared.transform_digest,
                derived_features: prepared.transform.derived_features(),
                feature_names: prepared.transform.feature_names().to_vec(),
            },
        });
    }
    let mut summary = render::table(&["result", "value"]);
    let rows: [(&str, String); 7] = [
        (
            "model version",
            format!("{} v{}", trained.model, trained.version),
        ),
        ("run", trained.run_id.to_string()),
        ("stopped", trained.stop_reason.clone()),
        ("best epoch", trained.best_epoch.to_string()),
        ("duration", render::duration(trained.duration_ms)),
        ("weights", trained.weights_digest.to_string()),
        ("manifest", trained.manifest_digest.to_string()),
    ];
    for (key, value) in rows {
        summary.add_row(vec![key.into(), num(value)]);
    }
    println!("{summary}");
    let title = format!(
        "{} v{} (test, {} rows)",
        trained.model,
        trained.version,
        prepared.test.rows.len()
    );
    println!("{}", metrics_table(&[(title, &trained.test_metrics)]));
    println!(
        "next: versa predict {}/{} --input FILE --trace",
        trained.model, trained.version
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Harness {
        #[command(flatten)]
        args: Args,
    }

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec![
            "versa",
            "--data",
            "customers",
            "--label",
            "churned",
            "--model",
            "m",
        ];
        argv.extend_from_slice(extra);
        Harness::try_parse_from(argv).expect("valid flags").args
    }

    fn config(text: &str) -> ConfigFile {
        toml::from_str(text).expect("valid TOML")
    }

    #[test]
    fn defaults_are_the_engine_defaults_with_seed_42() {
        let settings = settings(&args(&[]), ConfigFile::default()).unwrap();
        let expected = TrainConfig {
            seed: DEFAULT_SEED,
            ..TrainConfig::default()
        };
        assert_eq!(settings.train, expected);
        assert_eq!(settings.fractions.validation, 0.2);
        assert_eq!(settings.fractions.test, 0.2);
        assert_eq!(settings.transform, TransformSpec::default());
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let file = config(
            r#"
            [train]
            hidden = [16]
            epochs = 7
            learning_rate = 0.01
            optimizer = "sgd"
            momentum = 0.5
            patience = 3
            [split]
            validation = 0.1
            [features]
            debt_ratio = "debt / (income + 1)"
            "#,
        );
        let settings = settings(&args(&["--epochs", "9", "--hidden", "8,4"]), file).unwrap();
        assert_eq!(settings.train.hidden, vec![8, 4]);
        assert_eq!(settings.train.epochs, 9);
        assert_eq!(settings.train.learning_rate, 0.01);
        assert_eq!(
            settings.train.optimizer,
            Optimizer::Sgd {
                momentum: 0.5,
                nesterov: false
            }
        );
        assert_eq!(
            settings.train.early_stopping,
            Some(EarlyStopping {
                patience: 3,
                min_delta: DEFAULT_MIN_DELTA
            })
        );
        assert_eq!(settings.fractions.validation, 0.1);
        assert_eq!(settings.transform.features.len(), 1);
        assert_eq!(settings.transform.features[0].name, "debt_ratio");
        assert_eq!(settings.train.init, Initialization::Auto);
    }

    #[test]
    fn init_comes_from_the_flag_or_the_file() {
        let from_flag = settings(&args(&["--init", "glorot-uniform"]), ConfigFile::default());
        assert_eq!(from_flag.unwrap().train.init, Initialization::GlorotUniform);
        for spelling in ["glorot_uniform", "glorot-uniform"] {
            let file = config(&format!("[train]\ninit = \"{spelling}\""));
            let from_file = settings(&args(&[]), file).unwrap();
            assert_eq!(from_file.train.init, Initialization::GlorotUniform);
            assert!(describe(&from_file.train).ends_with("seed 42 · init glorot_uniform"));
        }
        let overridden = settings(
            &args(&["--init", "auto"]),
            config("[train]\ninit = \"glorot_uniform\""),
        );
        assert_eq!(overridden.unwrap().train.init, Initialization::Auto);
        assert!(toml::from_str::<ConfigFile>("[train]\ninit = \"he\"").is_err());
        let harness = Harness::try_parse_from([
            "versa", "--data", "d", "--label", "l", "--model", "m", "--init", "he",
        ]);
        assert!(harness.is_err());
    }

    #[test]
    fn inconsistent_settings_are_refused_with_the_reason() {
        let cases: [(&[&str], &str, &str); 5] = [
            (&["--lr", "0"], "", "learning_rate is 0"),
            (&["--val-fraction", "1.5"], "", "--val-fraction is 1.5"),
            (
                &["--val-fraction", "0", "--patience", "3"],
                "",
                "validation fraction is 0",
            ),
            (
                &[],
                "[train]\nmomentum = 0.9",
                "applies to optimizer `sgd` only",
            ),
            (&[], "[train]\nmin_delta = 0.1", "early stopping is off"),
        ];
        for (flags, file, expected) in cases {
            let error = settings(&args(flags), config(file)).unwrap_err();
            let message = format!("{error:#}");
            assert!(
                message.contains(expected),
                "{expected:?} not in {message:?}"
            );
        }
    }

    #[test]
    fn unknown_config_keys_and_bad_hidden_widths_are_rejected() {
        let error = toml::from_str::<ConfigFile>("[train]\nlearning_rat = 0.1").unwrap_err();
        assert!(error.to_string().contains("learning_rat"), "{error}");
        assert!(parse_hidden("64,x").unwrap_err().contains("layer 2 is `x`"));
        assert!(parse_hidden("0").is_err());
        assert!(parse_hidden("none").unwrap().0.is_empty());
    }
}
