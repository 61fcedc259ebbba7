//! `versa lineage NAME@ALIAS | NAME/VERSION`: where a deployed model came
//! from, as a tree from the deployment down — alias → model version → run →
//! fitted transform → dataset version — or the same nesting as JSON.
//!
//! Reads the catalog's `lineage` record and reshapes it; it must not open
//! blobs or know how the catalog stores edges. A link the catalog did not
//! record is shown as such, and what lies below it hangs from the nearest
//! recorded ancestor (in JSON: a `null` link, with the orphaned child on the
//! parent object).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::Serialize;
use versa_catalog::{DatasetVersion, Lineage, RunDetail, TransformRow};
use versa_core::{Alias, ModelName, ModelRef, VersionSelector};

use crate::Global;
use crate::render;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model version: `NAME@ALIAS` (e.g. `churn@production`) or `NAME/VERSION` (e.g. `churn/2`).
    reference: ModelRef,
}

/// The JSON document: the reference, the alias (if one was named) and the
/// version it resolves to, with its ancestors nested inside.
#[derive(Debug, Serialize)]
struct LineageDoc {
    reference: String,
    alias: Option<Alias>,
    version: VersionNode,
}

#[derive(Debug, Serialize)]
struct VersionNode {
    name: ModelName,
    version: u32,
    status: &'static str,
    description: Option<String>,
    created_at: i64,
    aliases: Vec<Alias>,
    manifest_digest: String,
    weights_digest: String,
    metrics: BTreeMap<String, f64>,
    tags: BTreeMap<String, String>,
    run: Option<RunNode>,
    /// Only when the run is not recorded: the transform hangs from the version.
    #[serde(skip_serializing_if = "Option::is_none")]
    transform: Option<TransformNode>,
    /// Only when neither run nor transform is recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    dataset: Option<DatasetNode>,
}

#[derive(Debug, Serialize)]
struct RunNode {
    run_id: String,
    run_name: String,
    status: &'static str,
    start_time: i64,
    end_time: Option<i64>,
    params: BTreeMap<String, String>,
    transform: Option<TransformNode>,
    /// Only when the transform is not recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    dataset: Option<DatasetNode>,
}

#[derive(Debug, Serialize)]
struct TransformNode {
    digest: String,
    fitted_on_digest: String,
    created_at: i64,
    derived_features: Vec<DerivedFeature>,
    dataset: Option<DatasetNode>,
}

#[derive(Debug, Serialize)]
struct DerivedFeature {
    name: String,
    expression: String,
}

#[derive(Debug, Serialize)]
struct DatasetNode {
    name: String,
    version: u32,
    content_digest: String,
    manifest_digest: String,
    source_path: String,
    source_format: String,
    size_bytes: u64,
    n_rows: u64,
    n_columns: u64,
    created_at: i64,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let workspace = super::open_workspace(global).await?;
    let catalog = &workspace.catalog;
    let reference = args.reference;
    let resolved = catalog
        .resolve(&reference.name, &reference.selector)
        .await
        .with_context(|| format!("cannot trace the lineage of `{reference}`"))?;
    let lineage = catalog
        .lineage(&reference.name, resolved.version)
        .await
        .with_context(|| format!("cannot trace the lineage of `{reference}`"))?;
    let alias = match &reference.selector {
        VersionSelector::Alias(alias) => Some(alias.clone()),
        VersionSelector::Version(_) => None,
    };
    let doc = LineageDoc {
        reference: reference.to_string(),
        alias,
        version: build(lineage)?,
    };
    if global.json {
        return super::print_json(&doc);
    }
    print!("{}", render_tree(&tree(&doc)));
    Ok(())
}

/// Reshapes the catalog's flat lineage record into the nested chain.
fn build(lineage: Lineage) -> Result<VersionNode> {
    let Lineage {
        version,
        run,
        transform,
        dataset,
    } = lineage;
    let dataset = dataset.map(dataset_node);
    let (transform, dataset) = match transform {
        Some(row) => {
            let mut node = transform_node(&row)?;
            node.dataset = dataset;
            (Some(node), None)
        }
        None => (None, dataset),
    };
    let (run, transform, dataset) = match run {
        Some(detail) => {
            let mut node = run_node(detail);
            node.transform = transform;
            node.dataset = dataset;
            (Some(node), None, None)
        }
        None => (None, transform, dataset),
    };
    Ok(VersionNode {
        name: version.name,
        version: version.version,
        status: version.status.as_str(),
        description: version.description,
        created_at: version.created_at,
        aliases: version.aliases,
        manifest_digest: version.manifest_digest.to_string(),
        weights_digest: version.weights_digest.to_string(),
        metrics: version.metrics,
        tags: version.tags,
        run,
        transform,
        dataset,
    })
}

fn run_node(detail: RunDetail) -> RunNode {
    RunNode {
        run_id: detail.run.run_id.to_string(),
        run_name: detail.run.run_name,
        status: detail.run.status.as_str(),
        start_time: detail.run.start_time,
        end_time: detail.run.end_time,
        params: detail.params,
        transform: None,
        dataset: None,
    }
}

fn transform_node(row: &TransformRow) -> Result<TransformNode> {
    // The spec is the transform's JSON as the pipeline wrote it; only its
    // `features` list (name + SQL expression) is read here.
    let spec: serde_json::Value = serde_json::from_str(&row.spec_json)
        .with_context(|| format!("transform {} has a spec that is not JSON", row.digest))?;
    let derived_features = spec
        .get("features")
        .and_then(serde_json::Value::as_array)
        .map(|features| {
            features
                .iter()
                .map(|feature| DerivedFeature {
                    name: text_field(feature, "name"),
                    expression: text_field(feature, "expression"),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(TransformNode {
        digest: row.digest.to_string(),
        fitted_on_digest: row.dataset_digest.to_string(),
        created_at: row.created_at,
        derived_features,
        dataset: None,
    })
}

fn text_field(value: &serde_json::Value, key: &str) -> String {
    value
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?")
        .to_string()
}

fn dataset_node(dataset: DatasetVersion) -> DatasetNode {
    DatasetNode {
        name: dataset.name.to_string(),
        version: dataset.version,
        content_digest: dataset.content_digest.to_string(),
        manifest_digest: dataset.manifest_digest.to_string(),
        source_path: dataset.source_path,
        source_format: dataset.source_format,
        size_bytes: dataset.size_bytes,
        n_rows: dataset.n_rows,
        n_columns: dataset.n_columns,
        created_at: dataset.created_at,
    }
}

/// A line of the printed tree and the lines under it.
struct Node {
    label: String,
    children: Vec<Node>,
}

impl Node {
    fn leaf(label: impl Into<String>) -> Node {
        Node {
            label: label.into(),
            children: Vec::new(),
        }
    }
}

fn tree(doc: &LineageDoc) -> Node {
    let version = version_tree(&doc.version);
    match &doc.alias {
        Some(alias) => Node {
            label: format!(
                "alias {}@{alias} → v{}",
                doc.version.name, doc.version.version
            ),
            children: vec![version],
        },
        None => version,
    }
}

fn version_tree(version: &VersionNode) -> Node {
    let mut children = vec![
        Node::leaf(format!("manifest {}", version.manifest_digest)),
        Node::leaf(format!("weights  {}", version.weights_digest)),
        Node::leaf(format!(
            "created  {} UTC",
            render::timestamp(version.created_at)
        )),
    ];
    if let Some(description) = &version.description {
        children.push(Node::leaf(format!("description: {description}")));
    }
    if !version.aliases.is_empty() {
        let aliases: Vec<String> = version.aliases.iter().map(ToString::to_string).collect();
        children.push(Node::leaf(format!("aliases: {}", aliases.join(", "))));
    }
    if !version.metrics.is_empty() {
        let metrics: Vec<String> = version
            .metrics
            .iter()
            .map(|(key, value)| format!("{key} {value:.4}"))
            .collect();
        children.push(Node::leaf(format!("test metrics: {}", metrics.join(" · "))));
    }
    match &version.run {
        Some(run) => children.push(run_tree(run)),
        None => children.push(Node::leaf("run: not recorded")),
    }
    if let Some(transform) = &version.transform {
        children.push(transform_tree(transform));
    }
    if let Some(dataset) = &version.dataset {
        children.push(dataset_tree(dataset));
    }
    Node {
        label: format!(
            "model version {} v{} · {}",
            version.name, version.version, version.status
        ),
        children,
    }
}

fn run_tree(run: &RunNode) -> Node {
    let params = Node {
        label: format!("params ({})", run.params.len()),
        children: run
            .params
            .iter()
            .map(|(key, value)| Node::leaf(format!("{key} = {value}")))
            .collect(),
    };
    let mut children = vec![params];
    match &run.transform {
        Some(transform) => children.push(transform_tree(transform)),
        None => children.push(Node::leaf("transform: not recorded")),
    }
    if let Some(dataset) = &run.dataset {
        children.push(dataset_tree(dataset));
    }
    let duration = run.end_time.map_or(String::new(), |end| {
        format!(" · {}", render::duration((end - run.start_time) as f64))
    });
    Node {
        label: format!(
            "run {} ({}) · {}{duration}",
            run.run_id, run.run_name, run.status
        ),
        children,
    }
}

fn transform_tree(transform: &TransformNode) -> Node {
    let mut children: Vec<Node> = transform
        .derived_features
        .iter()
        .map(|feature| Node::leaf(format!("derived {} = {}", feature.name, feature.expression)))
        .collect();
    if children.is_empty() {
        children.push(Node::leaf("no derived features"));
    }
    match &transform.dataset {
        Some(dataset) => children.push(dataset_tree(dataset)),
        None => children.push(Node::leaf(format!(
            "dataset: not recorded (fitted on content {})",
            transform.fitted_on_digest
        ))),
    }
    Node {
        label: format!("transform {}", transform.digest),
        children,
    }
}

fn dataset_tree(dataset: &DatasetNode) -> Node {
    Node {
        label: format!(
            "dataset {} v{} · {}",
            dataset.name, dataset.version, dataset.content_digest
        ),
        children: vec![
            Node::leaf(format!(
                "source {} ({}, {} bytes)",
                dataset.source_path, dataset.source_format, dataset.size_bytes
            )),
            Node::leaf(format!(
                "{} rows × {} columns",
                dataset.n_rows, dataset.n_columns
            )),
            Node::leaf(format!("manifest {}", dataset.manifest_digest)),
        ],
    }
}

/// Draws a tree with box-drawing connectors, one node per line.
fn render_tree(root: &Node) -> String {
    let mut out = String::new();
    out.push_str(&root.label);
    out.push('\n');
    render_children(&root.children, "", &mut out);
    out
}

fn render_children(children: &[Node], prefix: &str, out: &mut String) {
    for (index, child) in children.iter().enumerate() {
        let last = index + 1 == children.len();
        out.push_str(prefix);
        out.push_str(if last { "└── " } else { "├── " });
        out.push_str(&child.label);
        out.push('\n');
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        render_children(&child.children, &deeper, out);
    }
}

#[cfg(test)]
mod tests {
    //! The tree drawing: connectors and continuation bars.

    use super::*;

    #[test]
    fn connectors_and_bars_follow_the_nesting() {
        let root = Node {
            label: "root".to_string(),
            children: vec![
                Node {
                    label: "a".to_string(),
                    children: vec![Node::leaf("a1"), Node::leaf("a2")],
                },
                Node {
                    label: "b".to_string(),
                    children: vec![Node::leaf("b1")],
                },
            ],
        };
        assert_eq!(
            render_tree(&root),
            "root\n├── a\n│   ├── a1\n│   └── a2\n└── b\n    └── b1\n"
        );
    }
}
