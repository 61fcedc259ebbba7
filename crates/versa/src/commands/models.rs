//! `versa models …`: registered models and their versions — listing,
//! side-by-side comparison (with a terminal chart and an SVG plot), promotion
//! and rollback of aliases by compare-and-swap, alias history and tags.
//!
//! Glue over the catalog's public API only. Which way a metric should move is
//! decided in `crate::compare`; drawing lives in `crate::chart` and
//! `crate::svg`. This module must not know how the catalog stores anything.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use versa_catalog::{AliasExpectation, Catalog, MetricPoint, ModelVersion, RunDetail};
use versa_core::{Alias, ModelName, VersionSelector};

use crate::Global;
use crate::chart::{Series, line_chart};
use crate::compare::{self, Goal, MetricRow, ParamRow};
use crate::render::{self, num};
use crate::svg;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// List registered models with their latest version and aliases.
    List,
    /// Show one model: every version with its test metrics, digests and aliases.
    Show {
        /// Model name, e.g. `churn`.
        name: String,
    },
    /// A table of one model's versions: aliases, status, key metrics, run, digests, tags.
    Versions {
        /// Model name, e.g. `churn`.
        name: ModelName,
    },
    /// Compare versions side by side: test metrics with deltas against the
    /// first, the run parameters that differ, and their training curves.
    Compare(CompareArgs),
    /// Point an alias at a version (compare-and-swap from its current target).
    Promote(PromoteArgs),
    /// Point an alias back at the version it named before its last move.
    Rollback {
        /// Model name, e.g. `churn`.
        name: ModelName,
        /// The alias to move back, e.g. `production`.
        #[arg(long)]
        alias: Alias,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Every recorded move of one alias: from, to, when, who.
    AliasHistory {
        /// Model name, e.g. `churn`.
        name: ModelName,
        /// Alias, e.g. `production`.
        alias: Alias,
    },
    /// Set tags on a version (overwriting a tag of the same key).
    Tag {
        /// Model name, e.g. `churn`.
        name: ModelName,
        /// Version number, e.g. `2` or `v2`.
        // Its own id: `version` is taken by the `--version` flag.
        #[arg(id = "model_version", value_name = "VERSION", value_parser = parse_version_number)]
        version: u32,
        /// One or more `KEY=VALUE` pairs.
        #[arg(required = true, value_name = "KEY=VALUE")]
        tags: Vec<String>,
    },
    /// Set the free-text description of a version.
    Describe {
        /// Model name, e.g. `churn`.
        name: ModelName,
        /// Version number, e.g. `2` or `v2`.
        #[arg(id = "model_version", value_name = "VERSION", value_parser = parse_version_number)]
        version: u32,
        /// The description.
        text: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct CompareArgs {
    /// Model name, e.g. `churn`.
    name: ModelName,
    /// Two or more versions (`1`, `v1`, or an alias such as `production`); the first is the baseline.
    #[arg(required = true, num_args = 2.., value_name = "VERSION")]
    versions: Vec<VersionArg>,
    /// Which training curves to overlay: the validation split or the training split.
    #[arg(long, value_enum, default_value_t = CurveSplit::Validation)]
    curves: CurveSplit,
    /// Also write the curves as a standalone SVG file (two panels: loss and accuracy).
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PromoteArgs {
    /// Model name, e.g. `churn`.
    name: ModelName,
    /// The version to promote, e.g. `2` or `v2`.
    #[arg(id = "model_version", value_name = "VERSION", value_parser = parse_version_number)]
    version: u32,
    /// The alias to point at it, e.g. `production`.
    #[arg(long)]
    alias: Alias,
    /// Only promote if the version's test METRIC beats the alias's current
    /// target (e.g. `accuracy`; `log_loss` is lower-is-better).
    #[arg(long, value_name = "METRIC")]
    if_better: Option<String>,
    #[command(flatten)]
    actor: ActorArg,
}

/// Who is recorded in the alias history for a move.
#[derive(Debug, clap::Args)]
pub(crate) struct ActorArg {
    /// Name recorded in the alias history (default: $VERSA_ACTOR, else $USER).
    #[arg(long, env = "VERSA_ACTOR")]
    actor: Option<String>,
}

impl ActorArg {
    fn resolve(&self) -> String {
        self.actor
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .or_else(|| std::env::var("USERNAME").ok())
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    }
}

/// Which split's per-epoch curves to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CurveSplit {
    /// `val_loss` and `val_accuracy`.
    Validation,
    /// `train_loss` and `train_accuracy`.
    Train,
}

impl CurveSplit {
    fn keys(self) -> (&'static str, &'static str) {
        match self {
            CurveSplit::Validation => ("val_loss", "val_accuracy"),
            CurveSplit::Train => ("train_loss", "train_accuracy"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            CurveSplit::Validation => "validation",
            CurveSplit::Train => "training",
        }
    }
}

/// A version as written on the command line: a number or an alias.
#[derive(Debug, Clone)]
enum VersionArg {
    Number(u32),
    Alias(Alias),
}

impl FromStr for VersionArg {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if let Ok(number) = parse_version_number(text) {
            return Ok(VersionArg::Number(number));
        }
        Alias::new(text.strip_prefix('@').unwrap_or(text))
            .map(VersionArg::Alias)
            .map_err(|_| {
                format!(
                    "`{text}` is neither a version number (`2`, `v2`) nor an alias (`production`)"
                )
            })
    }
}

/// `2` or `v2` → 2.
fn parse_version_number(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix('v').unwrap_or(text);
    match digits.parse::<u32>() {
        Ok(number) if number >= 1 => Ok(number),
        _ => Err(format!(
            "`{text}` is not a version number: expected a whole number from 1, like `2` or `v2`"
        )),
    }
}

pub(crate) async fn run(global: &Global, command: Command) -> Result<()> {
    let workspace = super::open_workspace(global).await?;
    let catalog = &workspace.catalog;
    match command {
        Command::List => list(global, catalog).await,
        Command::Show { name } => show(global, catalog, &name).await,
        Command::Versions { name } => versions(global, catalog, &name).await,
        Command::Compare(args) => compare_versions(global, catalog, args).await,
        Command::Promote(args) => promote(global, catalog, args).await,
        Command::Rollback { name, alias, actor } => {
            rollback(global, catalog, &name, &alias, &actor.resolve()).await
        }
        Command::AliasHistory { name, alias } => {
            alias_history(global, catalog, &name, &alias).await
        }
        Command::Tag {
            name,
            version,
            tags,
        } => tag(global, catalog, &name, version, &tags).await,
        Command::Describe {
            name,
            version,
            text,
        } => {
            catalog
                .set_model_version_description(&name, version, &text)
                .await
                .with_context(|| format!("cannot describe `{name}` v{version}"))?;
            let described = catalog
                .model_version(&name, version)
                .await
                .with_context(|| format!("cannot read `{name}` v{version} back"))?;
            if global.json {
                return super::print_json(&described);
            }
            println!("{name} v{version}: {text}");
            Ok(())
        }
    }
}

async fn list(global: &Global, catalog: &Catalog) -> Result<()> {
    let models = catalog.list_models().await.context("cannot list models")?;
    if global.json {
        return super::print_json(&serde_json::json!({ "models": models }));
    }
    if models.is_empty() {
        println!("no models yet; `versa quickstart` trains two");
        return Ok(());
    }
    let mut table = render::table(&["model", "versions", "latest", "aliases", "updated"]);
    for m in &models {
        let aliases: Vec<String> = m
            .aliases
            .iter()
            .map(|(a, v)| format!("{a} → v{v}"))
            .collect();
        table.add_row(vec![
            m.name.to_string().into(),
            num(m.n_versions),
            num(m
                .latest_version
                .map_or("—".to_string(), |v| format!("v{v}"))),
            aliases.join(", ").into(),
            render::timestamp(m.updated_at).into(),
        ]);
    }
    println!("{table}");
    Ok(())
}

async fn show(global: &Global, catalog: &Catalog, name: &str) -> Result<()> {
    let name = ModelName::new(name)?;
    let versions = catalog
        .list_versions(&name)
        .await
        .with_context(|| format!("cannot show model `{name}`"))?;
    if global.json {
        return super::print_json(&serde_json::json!({ "name": name, "versions": versions }));
    }
    println!("model {name}: {} version(s)", versions.len());
    let mut table = render::table(&[
        "version", "aliases", "accuracy", "F1", "ROC AUC", "log loss", "run", "weights", "created",
    ]);
    for v in &versions {
        table.add_row(vec![
            num(format!("v{}", v.version)),
            aliases_text(v).into(),
            num(metric_text(v, "accuracy")),
            num(metric_text(v, "f1")),
            num(metric_text(v, "roc_auc")),
            num(metric_text(v, "log_loss")),
            v.run_id
                .as_ref()
                .map_or("—".to_string(), |r| r.to_string())
                .into(),
            v.weights_digest.short().into(),
            render::timestamp(v.created_at).into(),
        ]);
    }
    println!("{table}");
    for v in &versions {
        if let Some(description) = &v.description {
            println!("  v{}: {description}", v.version);
        }
    }
    Ok(())
}

fn aliases_text(version: &ModelVersion) -> String {
    version
        .aliases
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn metric_text(version: &ModelVersion, key: &str) -> String {
    version
        .metrics
        .get(key)
        .map_or("—".to_string(), |x| format!("{x:.4}"))
}

async fn versions(global: &Global, catalog: &Catalog, name: &ModelName) -> Result<()> {
    let versions = catalog
        .list_versions(name)
        .await
        .with_context(|| format!("cannot list versions of model `{name}`"))?;
    if global.json {
        return super::print_json(&serde_json::json!({ "name": name, "versions": versions }));
    }
    println!("model {name}: {} version(s)", versions.len());
    let mut table = render::table(&[
        "version",
        "aliases",
        "status",
        "accuracy",
        "log loss",
        "run",
        "manifest",
        "weights",
        "created",
        "tags",
        "description",
    ]);
    for v in &versions {
        let tags: Vec<String> = v
            .tags
            .iter()
            .map(|(k, value)| format!("{k}={value}"))
            .collect();
        table.add_row(vec![
            num(format!("v{}", v.version)),
            aliases_text(v).into(),
            v.status.as_str().into(),
            num(metric_text(v, "accuracy")),
            num(metric_text(v, "log_loss")),
            v.run_id
                .as_ref()
                .map_or("—".to_string(), ToString::to_string)
                .into(),
            v.manifest_digest.short().into(),
            v.weights_digest.short().into(),
            render::timestamp(v.created_at).into(),
            tags.join(", ").into(),
            v.description.clone().unwrap_or_default().into(),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// The test metrics shown first, in this order; any others follow alphabetically.
const PREFERRED_METRICS: [&str; 6] = [
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
];

/// One compared version with what `compare` needs from its run.
struct Compared {
    version: ModelVersion,
    run: Option<RunDetail>,
    loss: Vec<MetricPoint>,
    accuracy: Vec<MetricPoint>,
}

#[derive(Serialize)]
struct CompareOutput<'a> {
    name: &'a ModelName,
    baseline: u32,
    versions: Vec<ComparedSummary<'a>>,
    metrics: &'a [MetricRow],
    differing_params: &'a [ParamRow],
    curves: CurvesOutput<'a>,
    plot: Option<&'a PathBuf>,
}

#[derive(Serialize)]
struct ComparedSummary<'a> {
    version: u32,
    aliases: &'a [Alias],
    run_id: Option<String>,
    run_name: Option<&'a str>,
    description: Option<&'a str>,
    epochs: usize,
}

#[derive(Serialize)]
struct CurvesOutput<'a> {
    split: CurveSplit,
    loss: CurveSet<'a>,
    accuracy: CurveSet<'a>,
}

#[derive(Serialize)]
struct CurveSet<'a> {
    metric: &'a str,
    series: Vec<CurveSeries>,
}

#[derive(Serialize)]
struct CurveSeries {
    version: u32,
    /// `[epoch, value]` pairs.
    points: Vec<(i64, f64)>,
}

async fn compare_versions(global: &Global, catalog: &Catalog, args: CompareArgs) -> Result<()> {
    let name = &args.name;
    let (loss_key, accuracy_key) = args.curves.keys();
    let mut compared: Vec<Compared> = Vec::new();
    for selector in &args.versions {
        let selector = match selector {
            VersionArg::Number(number) => VersionSelector::Version(*number),
            VersionArg::Alias(alias) => VersionSelector::Alias(alias.clone()),
        };
        let version = catalog
            .resolve(name, &selector)
            .await
            .with_context(|| format!("cannot compare versions of model `{name}`"))?;
        if let Some(earlier) = compared
            .iter()
            .find(|c| c.version.version == version.version)
        {
            bail!(
                "version v{} of model `{name}` is named twice (the second time as `{}`); name each version once",
                earlier.version.version,
                match &selector {
                    VersionSelector::Version(n) => n.to_string(),
                    VersionSelector::Alias(a) => a.to_string(),
                }
            );
        }
        let (run, loss, accuracy) = match &version.run_id {
            Some(run_id) => {
                let context =
                    || format!("cannot read run {run_id} of `{name}` v{}", version.version);
                let run = catalog.run(run_id).await.with_context(context)?;
                let loss = catalog
                    .metric_history(run_id, loss_key)
                    .await
                    .with_context(context)?;
                let accuracy = catalog
                    .metric_history(run_id, accuracy_key)
                    .await
                    .with_context(context)?;
                (Some(run), loss, accuracy)
            }
            None => (None, Vec::new(), Vec::new()),
        };
        compared.push(Compared {
            version,
            run,
            loss,
            accuracy,
        });
    }

    let metric_maps: Vec<&BTreeMap<String, f64>> =
        compared.iter().map(|c| &c.version.metrics).collect();
    let metric_rows = compare::metric_rows(&PREFERRED_METRICS, &metric_maps);
    let no_params = BTreeMap::new();
    let param_maps: Vec<&BTreeMap<String, String>> = compared
        .iter()
        .map(|c| c.run.as_ref().map_or(&no_params, |r| &r.params))
        .collect();
    let param_rows = compare::differing_params(&param_maps);
    let labels: Vec<String> = compared
        .iter()
        .map(|c| format!("v{}", c.version.version))
        .collect();
    let points = |history: &[MetricPoint]| -> Vec<(f64, f64)> {
        history.iter().map(|p| (p.step as f64, p.value)).collect()
    };

    if let Some(path) = &args.plot {
        let curves = |pick: fn(&Compared) -> &[MetricPoint]| -> Vec<svg::Curve> {
            compared
                .iter()
                .zip(&labels)
                .map(|(c, label)| svg::Curve {
                    name: label.clone(),
                    points: points(pick(c)),
                })
                .collect()
        };
        let split = args.curves.label();
        let panels = [
            svg::Panel {
                id: "panel-loss".to_string(),
                title: format!("{split} loss (lower is better)"),
                x_label: "epoch".to_string(),
                y_label: loss_key.to_string(),
                curves: curves(|c| &c.loss),
            },
            svg::Panel {
                id: "panel-accuracy".to_string(),
                title: format!("{split} accuracy (higher is better)"),
                x_label: "epoch".to_string(),
                y_label: accuracy_key.to_string(),
                curves: curves(|c| &c.accuracy),
            },
        ];
        let title = format!("model {name}: {}", labels.join(" vs "));
        std::fs::write(path, svg::render(&title, &panels))
            .with_context(|| format!("cannot write the plot to `{}`", path.display()))?;
    }

    if global.json {
        let series = |pick: fn(&Compared) -> &[MetricPoint]| -> Vec<CurveSeries> {
            compared
                .iter()
                .map(|c| CurveSeries {
                    version: c.version.version,
                    points: pick(c).iter().map(|p| (p.step, p.value)).collect(),
                })
                .collect()
        };
        let output = CompareOutput {
            name,
            baseline: compared[0].version.version,
            versions: compared
                .iter()
                .map(|c| ComparedSummary {
                    version: c.version.version,
                    aliases: &c.version.aliases,
                    run_id: c.version.run_id.as_ref().map(ToString::to_string),
                    run_name: c.run.as_ref().map(|r| r.run.run_name.as_str()),
                    description: c.version.description.as_deref(),
                    epochs: c.loss.len(),
                })
                .collect(),
            metrics: &metric_rows,
            differing_params: &param_rows,
            curves: CurvesOutput {
                split: args.curves,
                loss: CurveSet {
                    metric: loss_key,
                    series: series(|c| &c.loss),
                },
                accuracy: CurveSet {
                    metric: accuracy_key,
                    series: series(|c| &c.accuracy),
                },
            },
            plot: args.plot.as_ref(),
        };
        return super::print_json(&output);
    }

    println!(
        "model {name}: {} (baseline) vs {}",
        labels[0],
        labels[1..].join(", ")
    );
    let mut versions_table = render::table(&["version", "aliases", "run", "epochs", "description"]);
    for c in &compared {
        versions_table.add_row(vec![
            num(format!("v{}", c.version.version)),
            aliases_text(&c.version).into(),
            c.run
                .as_ref()
                .map_or("—".to_string(), |r| {
                    format!("{} ({})", r.run.run_id, r.run.run_name)
                })
                .into(),
            num(c.loss.len()),
            c.version.description.clone().unwrap_or_default().into(),
        ]);
    }
    println!("{versions_table}");

    println!();
    println!(
        "test metrics, deltas against {}: ↑ better, ↓ worse, = same",
        labels[0]
    );
    let mut header = vec!["metric", "goal"];
    header.extend(labels.iter().map(String::as_str));
    let mut metrics_table = render::table(&header);
    for row in &metric_rows {
        let mut cells = vec![row.key.clone().into(), row.goal.describe().into()];
        cells.extend((0..labels.len()).map(|index| num(row.cell(index))));
        metrics_table.add_row(cells);
    }
    println!("{metrics_table}");

    println!();
    compare::print_differing_params("run parameters", &labels, &param_rows);

    let chart_series = |pick: fn(&Compared) -> &[MetricPoint]| -> Vec<Series<'_>> {
        compared
            .iter()
            .zip(&labels)
            .map(|(c, label)| Series {
                name: label.as_str(),
                points: points(pick(c)),
            })
            .collect()
    };
    let split = args.curves.label();
    println!();
    println!(
        "{}",
        line_chart(
            &format!("{split} loss ↓ by epoch"),
            &chart_series(|c| &c.loss),
            60,
            10
        )
    );
    println!(
        "{}",
        line_chart(
            &format!("{split} accuracy ↑ by epoch"),
            &chart_series(|c| &c.accuracy),
            60,
            10
        )
    );
    if let Some(path) = &args.plot {
        println!(
            "wrote {} (loss and accuracy, {} versions)",
            path.display(),
            compared.len()
        );
    }
    Ok(())
}

/// The version `alias` of `name` points at now, or `None` if it is not set.
/// Fails if the model does not exist.
async fn alias_target(catalog: &Catalog, name: &ModelName, alias: &Alias) -> Result<Option<u32>> {
    let versions = catalog
        .list_versions(name)
        .await
        .with_context(|| format!("cannot read the aliases of model `{name}`"))?;
    Ok(versions
        .iter()
        .find(|v| v.aliases.contains(alias))
        .map(|v| v.version))
}

/// The `--if-better` comparison that allowed a promotion.
#[derive(Debug, Serialize)]
struct BetterCheck {
    metric: String,
    goal: Goal,
    candidate: f64,
    /// `None` when the alias did not exist yet, so there was nothing to beat.
    incumbent: Option<f64>,
}

#[derive(Debug, Serialize)]
struct AliasMove {
    name: ModelName,
    alias: Alias,
    from: Option<u32>,
    to: u32,
    /// False when the alias already pointed at the version.
    moved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<BetterCheck>,
}

async fn promote(global: &Global, catalog: &Catalog, args: PromoteArgs) -> Result<()> {
    let PromoteArgs {
        name,
        version,
        alias,
        if_better,
        actor,
    } = args;
    let candidate = catalog
        .model_version(&name, version)
        .await
        .with_context(|| format!("cannot promote `{name}` v{version}"))?;
    let current = alias_target(catalog, &name, &alias).await?;
    let mut check = None;
    if let Some(metric) = if_better
        && current != Some(version)
    {
        check = Some(better_check(catalog, &name, &alias, &candidate, current, &metric).await?);
    }
    let expectation = match current {
        Some(target) => AliasExpectation::Version(target),
        None => AliasExpectation::Absent,
    };
    let change = catalog
        .set_alias(&name, &alias, version, expectation, &actor.resolve())
        .await
        .with_context(|| format!("cannot point `{name}@{alias}` at v{version}"))?;
    let outcome = AliasMove {
        name,
        alias,
        from: change.from,
        to: change.to,
        moved: change.from != Some(change.to),
        check,
    };
    print_move(global, &outcome)
}

/// Checks that `candidate` beats the alias's current target on its test
/// `metric`; the error is the refusal, naming both values.
async fn better_check(
    catalog: &Catalog,
    name: &ModelName,
    alias: &Alias,
    candidate: &ModelVersion,
    current: Option<u32>,
    metric: &str,
) -> Result<BetterCheck> {
    let goal = compare::goal(metric);
    if goal == Goal::Unranked {
        bail!(
            "--if-better `{metric}`: versa does not know whether higher or lower `{metric}` is better; use {}",
            compare::RANKED_EXAMPLES
        );
    }
    let value_of = |version: &ModelVersion| -> Result<f64> {
        version.metrics.get(metric).copied().with_context(|| {
            format!(
                "`{name}` v{} has no test metric `{metric}`; it has {}",
                version.version,
                version
                    .metrics
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    };
    let candidate_value = value_of(candidate)?;
    let Some(current) = current else {
        return Ok(BetterCheck {
            metric: metric.to_string(),
            goal,
            candidate: candidate_value,
            incumbent: None,
        });
    };
    let incumbent = catalog
        .model_version(name, current)
        .await
        .with_context(|| format!("cannot read `{name}` v{current}, the target of `{alias}`"))?;
    let incumbent_value = value_of(&incumbent)?;
    let verdict = compare::judge(goal, Some(incumbent_value), Some(candidate_value));
    if verdict != compare::Verdict::Better {
        bail!(
            "refusing to point `{name}@{alias}` at v{}: its test {metric} {candidate_value:.4} does not beat \
             {incumbent_value:.4} of v{current}, the current target ({}); promote without --if-better to move it anyway",
            candidate.version,
            goal.describe()
        );
    }
    Ok(BetterCheck {
        metric: metric.to_string(),
        goal,
        candidate: candidate_value,
        incumbent: Some(incumbent_value),
    })
}

fn print_move(global: &Global, outcome: &AliasMove) -> Result<()> {
    if global.json {
        return super::print_json(outcome);
    }
    let AliasMove {
        name,
        alias,
        from,
        to,
        ..
    } = outcome;
    match (outcome.moved, from) {
        (false, _) => println!("{name}@{alias} already points at v{to}; nothing changed"),
        (true, Some(from)) => println!("{name}@{alias}: v{from} → v{to}"),
        (true, None) => println!("{name}@{alias}: created → v{to}"),
    }
    if let Some(check) = &outcome.check {
        match check.incumbent {
            Some(incumbent) => println!(
                "  test {}: {:.4} beats {incumbent:.4} ({})",
                check.metric,
                check.candidate,
                check.goal.describe()
            ),
            None => println!(
                "  test {}: {:.4}; the alias had no target to beat",
                check.metric, check.candidate
            ),
        }
    }
    Ok(())
}

async fn rollback(
    global: &Global,
    catalog: &Catalog,
    name: &ModelName,
    alias: &Alias,
    actor: &str,
) -> Result<()> {
    let current = alias_target(catalog, name, alias).await?;
    let history = catalog
        .alias_history(name, alias)
        .await
        .with_context(|| format!("cannot read the history of `{name}@{alias}`"))?;
    let Some(current) = current else {
        bail!(
            "cannot roll back `{name}@{alias}`: the alias is not set ({}); use `versa models promote {name} VERSION --alias {alias}`",
            if history.is_empty() {
                "it never was".to_string()
            } else {
                format!("{} recorded change(s), the last removed it", history.len())
            }
        );
    };
    // The newest event is the move that made the alias point where it does;
    // its `from` is the previous target. A second rollback therefore undoes
    // the first, like `cd -`.
    let last = history
        .last()
        .filter(|event| event.to_version == Some(current));
    let Some(previous) = last.and_then(|event| event.from_version) else {
        bail!(
            "cannot roll back `{name}@{alias}`: it has no previous target (it was created pointing at v{current} \
             and never moved); see `versa models alias-history {name} {alias}`"
        );
    };
    let change = catalog
        .set_alias(
            name,
            alias,
            previous,
            AliasExpectation::Version(current),
            actor,
        )
        .await
        .with_context(|| format!("cannot roll `{name}@{alias}` back to v{previous}"))?;
    print_move(
        global,
        &AliasMove {
            name: name.clone(),
            alias: alias.clone(),
            from: change.from,
            to: change.to,
            moved: change.from != Some(change.to),
            check: None,
        },
    )
}

async fn alias_history(
    global: &Global,
    catalog: &Catalog,
    name: &ModelName,
    alias: &Alias,
) -> Result<()> {
    // Listing versions first turns an unknown model into an error rather than an empty history.
    let current = alias_target(catalog, name, alias).await?;
    let events = catalog
        .alias_history(name, alias)
        .await
        .with_context(|| format!("cannot read the history of `{name}@{alias}`"))?;
    if global.json {
        return super::print_json(&serde_json::json!({
            "name": name,
            "alias": alias,
            "current": current,
            "events": events,
        }));
    }
    if events.is_empty() {
        println!("{name}@{alias} has never been set");
        return Ok(());
    }
    let version_text = |version: Option<u32>, absent: &str| {
        version.map_or(absent.to_string(), |v| format!("v{v}"))
    };
    let mut table = render::table(&["#", "from", "to", "when (UTC)", "who"]);
    for (index, event) in events.iter().enumerate() {
        table.add_row(vec![
            num(index + 1),
            num(version_text(event.from_version, "(created)")),
            num(version_text(event.to_version, "(deleted)")),
            render::timestamp(event.changed_at).into(),
            event.actor.clone().into(),
        ]);
    }
    println!(
        "{name}@{alias}: {} change(s), now {}",
        events.len(),
        version_text(current, "unset")
    );
    println!("{table}");
    Ok(())
}

async fn tag(
    global: &Global,
    catalog: &Catalog,
    name: &ModelName,
    version: u32,
    pairs: &[String],
) -> Result<()> {
    let mut parsed = Vec::with_capacity(pairs.len());
    for pair in pairs {
        match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                parsed.push((key.trim(), value));
            }
            _ => bail!(
                "invalid tag `{pair}`: expected KEY=VALUE with a non-empty key, e.g. `stage=candidate`"
            ),
        }
    }
    for (key, value) in &parsed {
        catalog
            .set_model_version_tag(name, version, key, value)
            .await
            .with_context(|| format!("cannot tag `{name}` v{version} with `{key}`"))?;
    }
    let tagged = catalog
        .model_version(name, version)
        .await
        .with_context(|| format!("cannot read `{name}` v{version} back"))?;
    if global.json {
        return super::print_json(&serde_json::json!({
            "name": name,
            "version": version,
            "tags": tagged.tags,
        }));
    }
    println!("{name} v{version}: {} tag(s)", tagged.tags.len());
    let mut table = render::table(&["tag", "value"]);
    for (key, value) in &tagged.tags {
        table.add_row(vec![key.clone(), value.clone()]);
    }
    println!("{table}");
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Argument parsing: clap's own consistency checks and version spellings.

    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        // Catches clashing argument ids (such as one named `version`) before a user does.
        crate::Cli::command().debug_assert();
    }

    #[test]
    fn versions_are_numbers_or_aliases() {
        assert_eq!(parse_version_number("v2"), Ok(2));
        assert_eq!(parse_version_number("3"), Ok(3));
        assert!(parse_version_number("0").is_err());
        assert!(parse_version_number("v").is_err());
        assert!(matches!(
            "v2".parse::<VersionArg>(),
            Ok(VersionArg::Number(2))
        ));
        assert!(matches!(
            "@production".parse::<VersionArg>(),
            Ok(VersionArg::Alias(alias)) if alias.as_str() == "production"
        ));
        assert!("not an alias!".parse::<VersionArg>().is_err());
    }
}
