//! Stage 1, data collection: a CSV or Parquet file becomes an immutable,
//! content-addressed dataset version (source bytes, schema, statistics,
//! digest). The format is chosen by extension, else by Parquet's magic bytes;
//! the content digest is over values, so the same table ingested from either
//! format is the same version.
//!
//! Knows files only as bytes plus a path for naming the format and for
//! messages; the command line and its schema-file flag live in the binary.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use versa_blobs::HashedBytes;
use versa_catalog::{NewDatasetVersion, Registration};
use versa_core::manifest::{DATASET_MANIFEST_FORMAT, DatasetManifest, SourceFormat};
use versa_core::schema::{ColumnSchema, ColumnStats};
use versa_core::{ColumnType, DatasetName, Digest};
use versa_tabular::csv::{CsvOptions, decode_csv, read_csv};
use versa_tabular::parquet::{decode_parquet, looks_like_parquet, read_parquet};
use versa_tabular::{DecodedTable, Table};

use crate::{PipelineError, Workspace};

/// What ingesting a file produced.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// Dataset name.
    pub name: String,
    /// Version number in the catalog.
    pub version: u32,
    /// Whether this call created the version or found identical data already registered.
    pub created: bool,
    /// Content digest of the table's values.
    pub content_digest: Digest,
    /// Digest of the dataset manifest blob.
    pub manifest_digest: Digest,
    /// Rows.
    pub n_rows: usize,
    /// Columns.
    pub n_columns: usize,
    /// The source file, as given.
    pub source_path: String,
    /// Source size in bytes.
    pub size_bytes: u64,
    /// The format the source was decoded as.
    pub source_format: SourceFormat,
    /// Each column with its type and why it has it, in source order.
    pub columns: Vec<ColumnReport>,
    /// Per-column statistics, in source order.
    pub stats: Vec<ColumnStats>,
    /// Class balance of the label column, when one was named.
    pub label: Option<LabelReport>,
}

/// One column of an ingested table and why it has its type.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnReport {
    /// Name, type and nullability.
    #[serde(flatten)]
    pub schema: ColumnSchema,
    /// Why the column has its type, for people.
    pub reason: String,
}

/// The label column's classes, validated at ingestion.
#[derive(Debug, Clone, Serialize)]
pub struct LabelReport {
    /// The label column.
    pub column: String,
    /// Each class with its row count, classes in value order.
    pub classes: Vec<ClassCount>,
    /// Rows with no label.
    pub missing: u64,
}

/// Rows of one class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassCount {
    /// The class, as text.
    pub class: String,
    /// Rows with it.
    pub count: u64,
}

/// How to ingest a file; the default infers everything.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Column types that replace CSV inference (a Parquet file's stored types
    /// must agree with them).
    pub type_overrides: BTreeMap<String, ColumnType>,
    /// A label column to validate: it must exist and have at least two classes.
    pub label: Option<String>,
}

/// A schema file: `[columns]` mapping column names to `integer`, `float`,
/// `boolean` or `categorical`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaFile {
    /// Declared column types.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnType>,
}

impl SchemaFile {
    /// Parses a schema file's TOML text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<SchemaFile, PipelineError> {
        toml::from_str(text).map_err(|error| {
            let line = error
                .span()
                .map(|span| 1 + text[..span.start.min(text.len())].matches('\n').count());
            PipelineError::Invalid(format!(
                "schema file `{}`{} is not valid: {}; expected a `[columns]` table such as \
                 `age = \"integer\"`, with types integer, float, boolean or categorical",
                path.display(),
                line.map_or(String::new(), |line| format!(", line {line},")),
                error.message().trim_end()
            ))
        })
    }
}

/// The format of a file: `.parquet`/`.pq` → Parquet, `.csv`/`.tsv`/`.txt` →
/// CSV, otherwise Parquet when the bytes carry its magic number, else CSV.
pub fn detect_format(path: &Path, bytes: &[u8]) -> SourceFormat {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("parquet" | "pq") => SourceFormat::Parquet,
        Some("csv" | "tsv" | "txt") => SourceFormat::Csv,
        _ if looks_like_parquet(bytes) => SourceFormat::Parquet,
        _ => SourceFormat::Csv,
    }
}

/// The catalog's text for a source format.
pub fn format_name(format: SourceFormat) -> &'static str {
    match format {
        SourceFormat::Csv => "csv",
        SourceFormat::Parquet => "parquet",
    }
}

/// A dataset version loaded back from the store, ready for preparation.
pub struct LoadedDataset {
    /// The manifest.
    pub manifest: DatasetManifest,
    /// The decoded table.
    pub table: Table,
}

/// Ingests the CSV file at `path` as a version of dataset `name`, inferring
/// every type (the reference scenario's entry point).
pub async fn ingest_csv(
    workspace: &Workspace,
    path: &Path,
    name: &DatasetName,
) -> Result<(IngestReport, LoadedDataset), PipelineError> {
    ingest_file(workspace, path, name, &IngestOptions::default()).await
}

/// Ingests the CSV or Parquet file at `path` as a version of dataset `name`.
///
/// Identical data (same content digest) under the same name returns the
/// existing version with `created: false`. The label, if named, is checked
/// before anything is stored.
pub async fn ingest_file(
    workspace: &Workspace,
    path: &Path,
    name: &DatasetName,
    options: &IngestOptions,
) -> Result<(IngestReport, LoadedDataset), PipelineError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|source| PipelineError::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
    let size_bytes = bytes.len() as u64;
    let format = detect_format(path, &bytes);
    let bytes: bytes::Bytes = bytes.into();
    let task_failed = |e: tokio::task::JoinError| PipelineError::Task(e.to_string());
    // The source's content address is hashed while the bytes are decoded,
    // so that once they are found valid the blob is written at once.
    let hashing = tokio::task::spawn_blocking({
        let bytes = bytes.clone();
        move || HashedBytes::new(bytes)
    });
    let (decoded, label) = tokio::task::spawn_blocking({
        let bytes = bytes.clone();
        let options = options.clone();
        move || decode_and_check(&bytes, format, &options)
    })
    .await
    .map_err(task_failed)??;
    let source = hashing.await.map_err(task_failed)?;
    // The data is valid: its statistics and digest (on blocking threads)
    // and storing the source blob (writing, syncing) run side by side.
    let described = tokio::task::spawn_blocking(move || {
        // Each uses every core, so they run in turn (side by side on two
        // threads was no faster on the ingest benchmark).
        let stats = versa_tabular::column_stats(&decoded.table);
        let content_digest = versa_tabular::content_digest(&decoded.table);
        (decoded, stats, content_digest)
    });
    let (described, source_blob) = tokio::join!(described, workspace.blobs.put_hashed(source));
    let (decoded, stats, content_digest) = described.map_err(task_failed)?;
    let source_blob = source_blob?;
    let table = decoded.table;
    let manifest = DatasetManifest {
        format_version: DATASET_MANIFEST_FORMAT,
        content_digest,
        source_blob,
        source_format: format,
        n_rows: table.n_rows() as u64,
        schema: table.schema().to_vec(),
        stats,
    };
    let manifest_digest = workspace.blobs.put_json(&manifest).await?;
    let (version, registration) = workspace
        .catalog
        .register_dataset(NewDatasetVersion {
            name: name.clone(),
            content_digest: manifest.content_digest,
            manifest_digest,
            n_rows: manifest.n_rows,
            n_columns: manifest.schema.len() as u64,
            source_path: path.display().to_string(),
            size_bytes,
            source_format: format_name(format).to_string(),
        })
        .await?;
    let report = IngestReport {
        name: name.to_string(),
        version: version.version,
        created: matches!(registration, Registration::Created),
        content_digest: manifest.content_digest,
        manifest_digest: version.manifest_digest,
        n_rows: table.n_rows(),
        n_columns: table.n_columns(),
        source_path: version.source_path.clone(),
        size_bytes,
        source_format: format,
        columns: manifest
            .schema
            .iter()
            .zip(&decoded.type_reasons)
            .map(|(schema, reason)| ColumnReport {
                schema: schema.clone(),
                reason: reason.to_string(),
            })
            .collect(),
        stats: manifest.stats.clone(),
        label,
    };
    Ok((report, LoadedDataset { manifest, table }))
}

/// Decodes the bytes and checks the label: everything that can reject the
/// data, before anything is stored.
fn decode_and_check(
    bytes: &[u8],
    format: SourceFormat,
    options: &IngestOptions,
) -> Result<(DecodedTable, Option<LabelReport>), PipelineError> {
    let decoded = match format {
        SourceFormat::Csv => decode_csv(
            bytes,
            &CsvOptions {
                type_overrides: options.type_overrides.clone(),
                ..CsvOptions::default()
            },
        )?,
        SourceFormat::Parquet => {
            let decoded = decode_parquet(bytes)?;
            check_stored_types(&decoded.table, &options.type_overrides)?;
            decoded
        }
    };
    let label = match &options.label {
        Some(label) => Some(check_label(&decoded.table, label)?),
        None => None,
    };
    Ok((decoded, label))
}

/// Parquet carries its own types; a schema file may restate them but not change them.
fn check_stored_types(
    table: &Table,
    overrides: &BTreeMap<String, ColumnType>,
) -> Result<(), PipelineError> {
    for (name, declared) in overrides {
        let Some(index) = table.column_index(name) else {
            return Err(PipelineError::Invalid(format!(
                "the schema declares column `{name}`, which is not in the parquet file; columns are: {}",
                quoted(&table.column_names())
            )));
        };
        let stored = table.schema()[index].column_type;
        if stored != *declared {
            return Err(PipelineError::Invalid(format!(
                "the schema declares column `{name}` as {declared}, but the parquet file stores it as {stored}; \
                 parquet columns keep their stored types, so declare {stored} or convert the file"
            )));
        }
    }
    Ok(())
}

fn check_label(table: &Table, label: &str) -> Result<LabelReport, PipelineError> {
    let Some(index) = table.column_index(label) else {
        return Err(PipelineError::Invalid(format!(
            "label column `{label}` is not in the data; columns are: {}",
            quoted(&table.column_names())
        )));
    };
    let classes = versa_tabular::stats::class_balance(table, label)?;
    match classes.as_slice() {
        [] => {
            return Err(PipelineError::Invalid(format!(
                "label column `{label}` has no values; a classifier needs at least two classes"
            )));
        }
        [(class, _)] => {
            return Err(versa_tabular::TabularError::SingleClass {
                label: label.to_string(),
                class: class.clone(),
            }
            .into());
        }
        _ => {}
    }
    Ok(LabelReport {
        column: label.to_string(),
        classes: classes
            .into_iter()
            .map(|(class, count)| ClassCount { class, count })
            .collect(),
        missing: table.column(index).null_count() as u64,
    })
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Loads a registered dataset version's table back from the blob store,
/// decoding it by its source format (a CSV with the schema recorded at
/// ingestion).
pub async fn load_dataset(
    workspace: &Workspace,
    manifest_digest: &Digest,
) -> Result<LoadedDataset, PipelineError> {
    let manifest: DatasetManifest = workspace.blobs.get_json(manifest_digest).await?;
    manifest.check_format()?;
    let bytes = workspace.blobs.get(&manifest.source_blob).await?;
    let overrides = manifest
        .schema
        .iter()
        .map(|c| (c.name.clone(), c.column_type))
        .collect();
    let format = manifest.source_format;
    let table = tokio::task::spawn_blocking(move || match format {
        SourceFormat::Csv => read_csv(
            &bytes,
            &CsvOptions {
                type_overrides: overrides,
                ..CsvOptions::default()
            },
        ),
        SourceFormat::Parquet => read_parquet(&bytes),
    })
    .await
    .map_err(|e| PipelineError::Task(e.to_string()))??;
    Ok(LoadedDataset { manifest, table })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rejected_data_stores_no_blob_and_accepted_data_stores_its_source() {
        let temp = tempfile::tempdir().unwrap();
        let workspace = Workspace::init(&temp.path().join("ws")).await.unwrap();
        let write = |file: &str, text: &str| {
            let path = temp.path().join(file);
            std::fs::write(&path, text).unwrap();
            path
        };
        let name = DatasetName::new("d").unwrap();
        let with_label = IngestOptions {
            label: Some("y".to_string()),
            ..IngestOptions::default()
        };
        // A single class, then a ragged row: each is rejected before storing.
        let single = write("single.csv", "x,y\n1,yes\n2,yes\n");
        assert!(
            ingest_file(&workspace, &single, &name, &with_label)
                .await
                .is_err()
        );
        let ragged = write("ragged.csv", "x,y\n1,yes\n2\n");
        assert!(
            ingest_file(&workspace, &ragged, &name, &with_label)
                .await
                .is_err()
        );
        assert!(workspace.blobs.list().await.unwrap().is_empty());

        let text = "x,y\n1,yes\n2,no\n3,\n";
        let good = write("good.csv", text);
        let (report, loaded) = ingest_file(&workspace, &good, &name, &with_label)
            .await
            .unwrap();
        assert_eq!(loaded.manifest.source_blob, Digest::of(text.as_bytes()));
        assert_eq!(
            workspace
                .blobs
                .get(&loaded.manifest.source_blob)
                .await
                .unwrap(),
            text.as_bytes()
        );
        assert_eq!(report.label.map(|label| label.missing), Some(1));
        assert_eq!(report.stats[1].missing, 1);
        assert_eq!(
            report.content_digest,
            versa_tabular::content_digest(&loaded.table)
        );
    }
}
