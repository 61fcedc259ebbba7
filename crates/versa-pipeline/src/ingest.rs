//! Stage 1, data collection: a CSV file becomes an immutable, content-addressed
//! dataset version (source bytes, schema, statistics, digest).

use std::path::Path;

use serde::Serialize;
use versa_catalog::{NewDatasetVersion, Registration};
use versa_core::manifest::{DATASET_MANIFEST_FORMAT, DatasetManifest, SourceFormat};
use versa_core::{DatasetName, Digest};
use versa_tabular::Table;
use versa_tabular::csv::{CsvOptions, read_csv};

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
}

/// A dataset version loaded back from the store, ready for preparation.
pub struct LoadedDataset {
    /// The manifest.
    pub manifest: DatasetManifest,
    /// The decoded table.
    pub table: Table,
}

/// Ingests the CSV file at `path` as a version of dataset `name`.
pub async fn ingest_csv(
    workspace: &Workspace,
    path: &Path,
    name: &DatasetName,
) -> Result<(IngestReport, LoadedDataset), PipelineError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|source| PipelineError::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
    let size_bytes = bytes.len() as u64;
    let (table, manifest) = tokio::task::spawn_blocking({
        let bytes = bytes.clone();
        move || describe(&bytes)
    })
    .await
    .map_err(|e| PipelineError::Task(e.to_string()))??;
    let source_blob = workspace.blobs.put(bytes.into()).await?;
    let manifest = DatasetManifest {
        source_blob,
        ..manifest
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
            source_format: "csv".to_string(),
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
    };
    Ok((report, LoadedDataset { manifest, table }))
}

/// Decodes CSV bytes and computes everything the manifest records except the
/// source blob's digest (filled in by the caller once the blob is stored).
fn describe(bytes: &[u8]) -> Result<(Table, DatasetManifest), PipelineError> {
    let table = read_csv(bytes, &CsvOptions::default())?;
    let manifest = DatasetManifest {
        format_version: DATASET_MANIFEST_FORMAT,
        content_digest: versa_tabular::digest::content_digest(&table),
        source_blob: Digest::of(bytes),
        source_format: SourceFormat::Csv,
        n_rows: table.n_rows() as u64,
        schema: table.schema().to_vec(),
        stats: versa_tabular::stats::column_stats(&table),
    };
    Ok((table, manifest))
}

/// Loads a registered dataset version's table back from the blob store,
/// decoding it with the schema recorded at ingestion.
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
    let table = tokio::task::spawn_blocking(move || {
        read_csv(
            &bytes,
            &CsvOptions {
                type_overrides: overrides,
                ..CsvOptions::default()
            },
        )
    })
    .await
    .map_err(|e| PipelineError::Task(e.to_string()))??;
    Ok(LoadedDataset { manifest, table })
}
