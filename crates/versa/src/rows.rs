//! Raw input rows for prediction, read from CSV or JSON files into the one
//! shape the model bundle validates: a JSON object of field name → value.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value as Json};
use versa_tabular::Table;
use versa_tabular::csv::{CsvOptions, read_csv};
use versa_tabular::table::Value;

/// Reads rows from `path`: `.csv` (header + rows), or `.json` / `.jsonl`
/// (an array of objects, `{"rows": [...]}`, or one object per line).
pub(crate) fn read_rows(path: &Path) -> Result<Vec<Map<String, Json>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") | Some("tsv") | Some("txt") => {
            let table = read_csv(&bytes, &CsvOptions::default())
                .with_context(|| format!("cannot read rows from `{}`", path.display()))?;
            Ok((0..table.n_rows())
                .map(|r| table_row(&table, r, None))
                .collect())
        }
        Some("json") | Some("jsonl") | Some("ndjson") => {
            json_rows(&bytes).with_context(|| format!("cannot read rows from `{}`", path.display()))
        }
        _ => bail!(
            "`{}`: unknown input format; expected a .csv file (header + rows) or a .json/.jsonl file (objects of field → value)",
            path.display()
        ),
    }
}

fn json_rows(bytes: &[u8]) -> Result<Vec<Map<String, Json>>> {
    let text = std::str::from_utf8(bytes).context("the file is not valid UTF-8")?;
    let values: Vec<Json> = match serde_json::from_str::<Json>(text) {
        Ok(Json::Array(items)) => items,
        Ok(Json::Object(mut object)) => match object.remove("rows") {
            Some(Json::Array(items)) => items,
            _ => vec![Json::Object(object)],
        },
        Ok(other) => bail!("expected an array of objects or {{\"rows\": [...]}}, got {other}"),
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line)
                    .with_context(|| format!("line {}: not a JSON object", i + 1))
            })
            .collect::<Result<_>>()?,
    };
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| match value {
            Json::Object(object) => Ok(object),
            other => bail!(
                "row {}: expected an object of field → value, got {other}",
                i + 1
            ),
        })
        .collect()
}

/// Row `row` of `table` as a JSON object, leaving out column `skip`.
pub(crate) fn table_row(table: &Table, row: usize, skip: Option<&str>) -> Map<String, Json> {
    let mut object = Map::new();
    for (index, column) in table.schema().iter().enumerate() {
        if Some(column.name.as_str()) == skip {
            continue;
        }
        let value = match table.value(index, row) {
            Value::Missing => Json::Null,
            Value::Integer(v) => Json::from(v),
            Value::Float(v) => serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number),
            Value::Boolean(v) => Json::Bool(v),
            Value::Text(v) => Json::String(v),
        };
        object.insert(column.name.clone(), value);
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rows_accept_three_shapes_and_reject_others() {
        assert_eq!(json_rows(br#"[{"a":1},{"a":2}]"#).unwrap().len(), 2);
        assert_eq!(json_rows(br#"{"rows":[{"a":1}]}"#).unwrap().len(), 1);
        assert_eq!(json_rows(b"{\"a\":1}\n{\"a\":2}\n").unwrap().len(), 2);
        let err = json_rows(b"[1]").unwrap_err().to_string();
        assert!(err.contains("row 1: expected an object"), "{err}");
        let err = format!("{:#}", json_rows(b"{\"a\":1}\nnope\n").unwrap_err());
        assert!(err.contains("line 2"), "{err}");
    }
}
