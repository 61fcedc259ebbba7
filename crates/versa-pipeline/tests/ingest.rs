//! Ingestion into a real workspace (temp dir, SQLite catalog, blob store):
//! CSV and Parquet choose their decoder by extension or magic bytes, record
//! their source format, de-duplicate by content across formats, load back by
//! format, honour schema files and validate the label before storing.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use versa_core::manifest::SourceFormat;
use versa_core::{ColumnType, DatasetName};
use versa_pipeline::Workspace;
use versa_pipeline::ingest::{IngestOptions, SchemaFile, detect_format, ingest_file, load_dataset};

const CSV: &str = "age,income,plan,churned\n\
                   30,1200.5,basic,no\n\
                   41,,pro,yes\n\
                   ,830.25,basic,no\n\
                   52,99.5,,yes\n";

fn parquet_of_csv_values() -> Vec<u8> {
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "age",
            Arc::new(Int64Array::from(vec![Some(30), Some(41), None, Some(52)])),
        ),
        (
            "income",
            Arc::new(Float64Array::from(vec![
                Some(1200.5),
                None,
                Some(830.25),
                Some(99.5),
            ])),
        ),
        (
            "plan",
            Arc::new(StringArray::from(vec![
                Some("basic"),
                Some("pro"),
                Some("basic"),
                None,
            ])),
        ),
        (
            "churned",
            Arc::new(StringArray::from(vec!["no", "yes", "no", "yes"])),
        ),
    ];
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

fn name(text: &str) -> DatasetName {
    DatasetName::new(text).unwrap()
}

fn write(dir: &Path, file: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn format_is_chosen_by_extension_then_magic_bytes() {
    let parquet = parquet_of_csv_values();
    assert_eq!(
        detect_format(Path::new("a.parquet"), b"x"),
        SourceFormat::Parquet
    );
    assert_eq!(
        detect_format(Path::new("a.CSV"), &parquet),
        SourceFormat::Csv
    );
    assert_eq!(
        detect_format(Path::new("export.bin"), &parquet),
        SourceFormat::Parquet
    );
    assert_eq!(
        detect_format(Path::new("export"), CSV.as_bytes()),
        SourceFormat::Csv
    );
}

#[tokio::test]
async fn csv_and_parquet_of_the_same_values_are_one_version() {
    let temp = tempfile::tempdir().unwrap();
    let workspace = Workspace::init(&temp.path().join("ws")).await.unwrap();
    let customers = name("customers");
    let csv_path = write(temp.path(), "customers.csv", CSV.as_bytes());
    // No extension: the magic bytes say Parquet.
    let parquet_path = write(temp.path(), "customers-export", &parquet_of_csv_values());

    let (first, _) = ingest_file(&workspace, &csv_path, &customers, &IngestOptions::default())
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.version, 1);
    assert_eq!(first.source_format, SourceFormat::Csv);
    assert_eq!(
        first.columns[1].reason,
        "every value is a number; `1200.5` (line 2) is not whole"
    );

    let (again, loaded) = ingest_file(
        &workspace,
        &parquet_path,
        &customers,
        &IngestOptions::default(),
    )
    .await
    .unwrap();
    assert!(
        !again.created,
        "identical values in another format are the same version"
    );
    assert_eq!(again.version, 1);
    assert_eq!(again.content_digest, first.content_digest);
    assert_eq!(again.source_format, SourceFormat::Parquet);
    assert_eq!(loaded.manifest.source_format, SourceFormat::Parquet);
    assert_eq!(again.columns[0].reason, "stored as Int64 in the file");

    // Under another name the Parquet file is a new version, recorded as Parquet, and loads back.
    let (other, _) = ingest_file(
        &workspace,
        &parquet_path,
        &name("customers_pq"),
        &IngestOptions::default(),
    )
    .await
    .unwrap();
    assert!(other.created);
    let row = workspace
        .catalog
        .dataset(&name("customers_pq"), Some(1))
        .await
        .unwrap();
    assert_eq!(row.source_format, "parquet");
    let back = load_dataset(&workspace, &row.manifest_digest)
        .await
        .unwrap();
    assert_eq!(back.manifest.source_format, SourceFormat::Parquet);
    assert_eq!(
        versa_tabular::content_digest(&back.table),
        first.content_digest
    );
}

#[tokio::test]
async fn schema_files_override_csv_inference_and_must_agree_with_parquet() {
    let temp = tempfile::tempdir().unwrap();
    let workspace = Workspace::init(&temp.path().join("ws")).await.unwrap();
    let schema_path = Path::new("schema.toml");
    let schema = SchemaFile::parse("[columns]\nage = \"float\"\n", schema_path).unwrap();
    let options = IngestOptions {
        type_overrides: schema.columns,
        label: None,
    };
    let csv_path = write(temp.path(), "c.csv", CSV.as_bytes());
    let (report, _) = ingest_file(&workspace, &csv_path, &name("c"), &options)
        .await
        .unwrap();
    assert_eq!(report.columns[0].schema.column_type, ColumnType::Float);
    assert_eq!(report.columns[0].reason, "declared in the schema");
    // Loading back keeps the declared type.
    let row = workspace.catalog.dataset(&name("c"), None).await.unwrap();
    let back = load_dataset(&workspace, &row.manifest_digest)
        .await
        .unwrap();
    assert_eq!(back.table.schema()[0].column_type, ColumnType::Float);

    let parquet_path = write(temp.path(), "p.parquet", &parquet_of_csv_values());
    let err = ingest_file(&workspace, &parquet_path, &name("p"), &options)
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "the schema declares column `age` as float, but the parquet file stores it as integer; \
         parquet columns keep their stored types, so declare integer or convert the file"
    );

    let err = SchemaFile::parse("[columns]\nage = \"int\"\n", schema_path).unwrap_err();
    let message = err.to_string();
    assert!(
        message
            .starts_with("schema file `schema.toml`, line 2, is not valid: unknown variant `int`"),
        "{message}"
    );
    assert!(
        message.contains("integer, float, boolean or categorical"),
        "{message}"
    );
    let err = SchemaFile::parse("[colums]\nage = \"integer\"\n", schema_path).unwrap_err();
    assert!(err.to_string().contains("unknown field `colums`"), "{err}");
}

#[tokio::test]
async fn the_label_is_validated_before_anything_is_registered() {
    let temp = tempfile::tempdir().unwrap();
    let workspace = Workspace::init(&temp.path().join("ws")).await.unwrap();
    let csv_path = write(temp.path(), "c.csv", CSV.as_bytes());
    let with_label = |label: &str| IngestOptions {
        label: Some(label.to_string()),
        ..IngestOptions::default()
    };

    let err = ingest_file(&workspace, &csv_path, &name("c"), &with_label("churn"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "label column `churn` is not in the data; columns are: `age`, `income`, `plan`, `churned`"
    );
    let single = write(temp.path(), "single.csv", b"x,y\n1,yes\n2,yes\n3,\n");
    let err = ingest_file(&workspace, &single, &name("c"), &with_label("y"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "label `y` has a single class `yes`; a classifier needs at least two"
    );
    let none = write(temp.path(), "none.csv", b"x,y\n1,\n2,NA\n");
    let err = ingest_file(&workspace, &none, &name("c"), &with_label("y"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "label column `y` has no values; a classifier needs at least two classes"
    );
    assert!(
        workspace.catalog.list_datasets().await.unwrap().is_empty(),
        "a rejected label registers nothing"
    );

    let (report, _) = ingest_file(&workspace, &csv_path, &name("c"), &with_label("plan"))
        .await
        .unwrap();
    let label = report.label.unwrap();
    let classes: Vec<(&str, u64)> = label
        .classes
        .iter()
        .map(|c| (c.class.as_str(), c.count))
        .collect();
    assert_eq!(classes, [("basic", 2), ("pro", 1)]);
    assert_eq!(label.missing, 1);
}
