//! Parquet decoding: files written here with the parquet crate's
//! `ArrowWriter` (snappy, like pandas' default) decode to the same table, the
//! same statistics and the same content digest as the equivalent CSV; types
//! versa cannot hold are refused by name.

use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, Float32Array, Float64Array, Int32Array,
    Int64Array, LargeStringArray, RecordBatch, StringArray, UInt8Array, UInt64Array,
};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use versa_core::ColumnType;
use versa_tabular::csv::{CsvOptions, read_csv};
use versa_tabular::{
    TabularError, TypeReason, Value, column_stats, content_digest, decode_parquet,
    looks_like_parquet, read_parquet,
};

/// Writes the columns as one snappy-compressed Parquet file, in `row_group_rows`-row groups.
fn parquet_bytes(columns: Vec<(&str, ArrayRef)>, row_group_rows: usize) -> Vec<u8> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

const CSV: &str = "id,income,senior,contract\n\
                   1,1200.5,true,monthly\n\
                   2,,false,yearly\n\
                   ,830.25,,monthly\n\
                   4,99.0,true,\n\
                   5,0.5,false,two year\n";

fn wide_columns() -> Vec<(&'static str, ArrayRef)> {
    vec![
        (
            "id",
            Arc::new(Int64Array::from(vec![
                Some(1),
                Some(2),
                None,
                Some(4),
                Some(5),
            ])),
        ),
        (
            "income",
            Arc::new(Float64Array::from(vec![
                Some(1200.5),
                None,
                Some(830.25),
                Some(99.0),
                Some(0.5),
            ])),
        ),
        (
            "senior",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
                Some(false),
            ])),
        ),
        (
            "contract",
            Arc::new(StringArray::from(vec![
                Some("monthly"),
                Some("yearly"),
                Some("monthly"),
                None,
                Some("two year"),
            ])),
        ),
    ]
}

#[test]
fn the_same_table_as_csv_and_as_parquet_has_one_digest() {
    let from_csv = read_csv(CSV.as_bytes(), &CsvOptions::default()).unwrap();
    // Two rows per row group, so the decoder has to stitch batches together.
    let bytes = parquet_bytes(wide_columns(), 2);
    assert!(looks_like_parquet(&bytes));
    assert!(!looks_like_parquet(CSV.as_bytes()));
    let from_parquet = read_parquet(&bytes).unwrap();

    assert_eq!(from_parquet.schema(), from_csv.schema());
    assert_eq!(column_stats(&from_parquet), column_stats(&from_csv));
    assert_eq!(content_digest(&from_parquet), content_digest(&from_csv));
    assert_eq!(from_parquet.value(3, 4), Value::Text("two year".into()));
    assert_eq!(from_parquet.row_location(2), "row 3");
}

#[test]
fn narrow_dictionary_and_large_types_map_to_versa_types() {
    let csv = "a,b,c,d,e\n1,7,0.5,x,p\n-3,0,,y,\n,255,2.25,x,q\n";
    let from_csv = read_csv(csv.as_bytes(), &CsvOptions::default()).unwrap();
    let dictionary: DictionaryArray<Int32Type> =
        vec![Some("x"), Some("y"), Some("x")].into_iter().collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "a",
            Arc::new(Int32Array::from(vec![Some(1), Some(-3), None])),
        ),
        ("b", Arc::new(UInt8Array::from(vec![7, 0, 255]))),
        (
            "c",
            Arc::new(Float32Array::from(vec![Some(0.5), None, Some(2.25)])),
        ),
        ("d", Arc::new(dictionary)),
        (
            "e",
            Arc::new(LargeStringArray::from(vec![Some("p"), None, Some("q")])),
        ),
    ];
    let bytes = parquet_bytes(columns, 1024);
    let decoded = decode_parquet(&bytes).unwrap();
    let types: Vec<ColumnType> = decoded
        .table
        .schema()
        .iter()
        .map(|c| c.column_type)
        .collect();
    assert_eq!(
        types,
        [
            ColumnType::Integer,
            ColumnType::Integer,
            ColumnType::Float,
            ColumnType::Categorical,
            ColumnType::Categorical
        ]
    );
    assert_eq!(
        decoded.type_reasons[0],
        TypeReason::StoredType {
            stored: "Int32".into()
        }
    );
    assert_eq!(
        decoded.type_reasons[0].to_string(),
        "stored as Int32 in the file"
    );
    assert_eq!(content_digest(&decoded.table), content_digest(&from_csv));
}

#[test]
fn nan_and_missing_markers_are_missing_like_in_csv() {
    let csv = "x,t\n1.5,a\n,\n,\n2.5, b\n";
    let from_csv = read_csv(csv.as_bytes(), &CsvOptions::default()).unwrap();
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "x",
            Arc::new(Float64Array::from(vec![
                Some(1.5),
                Some(f64::NAN),
                None,
                Some(2.5),
            ])),
        ),
        (
            "t",
            Arc::new(StringArray::from(vec![
                Some("a"),
                Some("NA"),
                Some("  "),
                Some(" b"),
            ])),
        ),
    ];
    let from_parquet = read_parquet(&parquet_bytes(columns, 1024)).unwrap();
    assert_eq!(from_parquet.value(1, 3), Value::Text(" b".into()));
    assert_eq!(content_digest(&from_parquet), content_digest(&from_csv));
}

#[test]
fn pandas_index_columns_are_skipped() {
    let mut columns = wide_columns();
    columns.push((
        "__index_level_0__",
        Arc::new(Int64Array::from(vec![10, 11, 12, 13, 14])),
    ));
    let table = read_parquet(&parquet_bytes(columns, 1024)).unwrap();
    assert_eq!(table.column_names(), ["id", "income", "senior", "contract"]);
}

#[test]
fn unsupported_types_are_named_with_their_column() {
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int64Array::from(vec![1, 2]))),
        ("signup", Arc::new(Date32Array::from(vec![19000, 19001]))),
    ];
    let err = read_parquet(&parquet_bytes(columns, 1024)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parquet column `signup` has type Date32, which versa cannot read; accepted are integers, floats, \
         booleans and strings (plain or dictionary-encoded): convert the column to one of those before ingesting"
    );
}

#[test]
fn values_versa_cannot_hold_are_refused_with_their_row() {
    let columns: Vec<(&str, ArrayRef)> =
        vec![("n", Arc::new(UInt64Array::from(vec![1, u64::MAX])))];
    let err = read_parquet(&parquet_bytes(columns, 1024)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parquet column `n`, row 2: value 18446744073709551615 is above the largest integer versa stores \
         (9223372036854775807); store the column as float or string"
    );
    let columns: Vec<(&str, ArrayRef)> = vec![(
        "x",
        Arc::new(Float64Array::from(vec![1.0, 2.0, f64::NEG_INFINITY])),
    )];
    let err = read_parquet(&parquet_bytes(columns, 1024)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parquet column `x`, row 3: value -inf is infinite; versa accepts finite numbers, or a null for missing"
    );
}

#[test]
fn empty_truncated_and_foreign_bytes_are_errors() {
    let empty: Vec<(&str, ArrayRef)> = vec![("a", Arc::new(Int64Array::from(Vec::<i64>::new())))];
    let err = read_parquet(&parquet_bytes(empty, 1024)).unwrap_err();
    assert_eq!(err, TabularError::EmptyParquet { n_columns: 1 });
    assert_eq!(
        err.to_string(),
        "the parquet file has 1 columns and no rows; expected at least one row"
    );

    let err = read_parquet(CSV.as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("could not decode the parquet file: "),
        "{err}"
    );
    let whole = parquet_bytes(wide_columns(), 1024);
    let truncated = &whole[..whole.len() / 2];
    assert!(!looks_like_parquet(truncated));
    let err = read_parquet(truncated).unwrap_err();
    assert!(
        matches!(err, TabularError::Parquet(_)),
        "a truncated file is a decode error, not a panic: {err}"
    );
}

#[test]
fn duplicate_names_are_refused_like_a_csv_header() {
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("a", Arc::new(Int64Array::from(vec![1]))),
        ("a", Arc::new(Int64Array::from(vec![2]))),
    ];
    let err = read_parquet(&parquet_bytes(columns, 1024)).unwrap_err();
    assert_eq!(
        err,
        TabularError::DuplicateColumns {
            names: vec!["a".into()]
        }
    );
}

#[test]
fn csv_type_reasons_explain_the_inference() {
    let csv = "n,x,b,t,e\n1,1,true,1,\n2,2.5,false,abc,NA\n3,3,TRUE,2,\n";
    let decoded = versa_tabular::decode_csv(csv.as_bytes(), &CsvOptions::default()).unwrap();
    let reasons: Vec<String> = decoded
        .type_reasons
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        reasons,
        [
            "every value is a whole number",
            "every value is a number; `2.5` (line 3) is not whole",
            "every value is true or false",
            "`abc` (line 3) is not a number or a boolean",
            "no values at all",
        ]
    );
    let mut options = CsvOptions::default();
    options.type_overrides.insert("n".into(), ColumnType::Float);
    let decoded = versa_tabular::decode_csv(csv.as_bytes(), &options).unwrap();
    assert_eq!(decoded.type_reasons[0], TypeReason::Declared);
}

#[test]
fn a_file_written_by_pandas_reads_like_its_csv() {
    // pandas 3 `to_parquet` defaults: pyarrow engine, snappy pages, strings as
    // large_string, a categorical as a dictionary with int8 keys, and a
    // non-default index as `__index_level_0__` (see make_pandas_fixture.py).
    let bytes = include_bytes!("fixtures/pandas_snappy.parquet");
    let table = read_parquet(bytes).unwrap();
    let csv = "age,income,senior,contract,plan,support_calls\n\
               34,52.5,false,monthly,basic,0\n\
               51,,true,,pro,3\n\
               27,31.25,false,yearly,basic,1\n\
               45,78.0,true,monthly,pro,2\n";
    let from_csv = read_csv(csv.as_bytes(), &CsvOptions::default()).unwrap();
    assert_eq!(table.schema(), from_csv.schema());
    assert_eq!(content_digest(&table), content_digest(&from_csv));
    assert_eq!(table.value(4, 1), Value::Text("pro".into()));
}
