//! Column types, table schemas and column statistics: plain data, no arrow.
//!
//! `versa-tabular` maps arrow types onto these; everything downstream (the
//! catalog, the model manifest, the server's validation) speaks only these.

use serde::{Deserialize, Serialize};

/// The logical type of a column, as versa infers it or a user declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Whole numbers (stored as 64-bit integers).
    Integer,
    /// Real numbers (stored as 64-bit floats).
    Float,
    /// `true` / `false`.
    Boolean,
    /// A string drawn from a set of categories.
    Categorical,
}

impl ColumnType {
    /// Whether values are numbers (integer or float).
    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnType::Integer | ColumnType::Float)
    }

    /// The lowercase name users see and write in schema files.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Integer => "integer",
            ColumnType::Float => "float",
            ColumnType::Boolean => "boolean",
            ColumnType::Categorical => "categorical",
        }
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One column of a table schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// Column name, exactly as in the source header.
    pub name: String,
    /// Logical type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Whether the column had (or may have) missing values.
    pub nullable: bool,
}

/// Summary statistics of one column of a dataset version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    /// Column name.
    pub name: String,
    /// Logical type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Non-missing values.
    pub count: u64,
    /// Missing values.
    pub missing: u64,
    /// Mean of numeric values.
    pub mean: Option<f64>,
    /// Sample standard deviation of numeric values.
    pub std: Option<f64>,
    /// Minimum numeric value.
    pub min: Option<f64>,
    /// Maximum numeric value.
    pub max: Option<f64>,
    /// 25th, 50th and 75th percentiles of numeric values (linear interpolation).
    pub quantiles: Option<[f64; 3]>,
    /// Number of distinct non-missing values.
    pub distinct: u64,
    /// The most frequent values with their counts, most frequent first (at most 10).
    pub top: Vec<(String, u64)>,
}
