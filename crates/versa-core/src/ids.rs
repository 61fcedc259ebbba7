//! Names and references: what users type to point at a model, a version or a dataset.
//!
//! Every name is validated once, at the edge, so the rest of versa can use it
//! in paths, URLs and SQL parameters without re-checking.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An identifier that failed validation, with what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{input}`: {expected}")]
pub struct IdError {
    what: &'static str,
    input: String,
    expected: &'static str,
}

fn check_name(what: &'static str, input: &str) -> Result<(), IdError> {
    const EXPECTED: &str = "expected 1 to 128 characters from A-Z a-z 0-9 `_` `-` `.`, starting with a letter or digit";
    let ok = !input.is_empty()
        && input.len() <= 128
        && input
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && input
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(IdError {
            what,
            input: input.to_string(),
            expected: EXPECTED,
        })
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps a name.
            pub fn new(input: &str) -> Result<Self, IdError> {
                Self::validate(input)?;
                Ok(Self(input.to_string()))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::validate(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// The name of a registered model, e.g. `churn`.
    ModelName,
    "model name"
);
name_type!(
    /// The name of a dataset, e.g. `customers`.
    DatasetName,
    "dataset name"
);
name_type!(
    /// A movable pointer to one version of a model, e.g. `production`.
    ///
    /// `latest` and `v<digits>` are reserved so that `NAME@latest` and `NAME@v3`
    /// can never be confused with an alias (MLflow reserves the same).
    Alias,
    "alias"
);
name_type!(
    /// A run id: 32 lowercase hex digits for runs versa creates; MLflow-created ids are accepted too.
    RunId,
    "run id"
);

impl ModelName {
    fn validate(input: &str) -> Result<(), IdError> {
        check_name("model name", input)
    }
}

impl DatasetName {
    fn validate(input: &str) -> Result<(), IdError> {
        check_name("dataset name", input)
    }
}

impl RunId {
    fn validate(input: &str) -> Result<(), IdError> {
        check_name("run id", input)
    }
}

impl Alias {
    fn validate(input: &str) -> Result<(), IdError> {
        check_name("alias", input)?;
        let reserved = input.eq_ignore_ascii_case("latest")
            || (input.len() > 1
                && input.starts_with(['v', 'V'])
                && input[1..].chars().all(|c| c.is_ascii_digit()));
        if reserved {
            return Err(IdError {
                what: "alias",
                input: input.to_string(),
                expected: "`latest` and `v<number>` are reserved; choose another name such as `production`",
            });
        }
        Ok(())
    }
}

/// Which version of a model: by number or through an alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionSelector {
    /// An explicit version number (1-based).
    Version(u32),
    /// Whatever version the alias points to now.
    Alias(Alias),
}

/// `NAME@ALIAS` or `NAME/VERSION`: a model version as users write it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    /// The registered model.
    pub name: ModelName,
    /// Which of its versions.
    pub selector: VersionSelector,
}

impl ModelRef {
    /// Parses `NAME@ALIAS` or `NAME/VERSION`.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        const EXPECTED: &str =
            "expected `NAME@ALIAS` (e.g. `churn@production`) or `NAME/VERSION` (e.g. `churn/2`)";
        let bad = || IdError {
            what: "model reference",
            input: input.to_string(),
            expected: EXPECTED,
        };
        if let Some((name, alias)) = input.split_once('@') {
            return Ok(ModelRef {
                name: ModelName::new(name)?,
                selector: VersionSelector::Alias(Alias::new(alias)?),
            });
        }
        if let Some((name, version)) = input.split_once('/') {
            let number: u32 = version.parse().map_err(|_| bad())?;
            if number == 0 {
                return Err(bad());
            }
            return Ok(ModelRef {
                name: ModelName::new(name)?,
                selector: VersionSelector::Version(number),
            });
        }
        Err(bad())
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.selector {
            VersionSelector::Version(v) => write!(f, "{}/{}", self.name, v),
            VersionSelector::Alias(a) => write!(f, "{}@{}", self.name, a),
        }
    }
}

impl FromStr for ModelRef {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        ModelRef::parse(s)
    }
}

/// `NAME` or `NAME@VERSION`: a dataset version as users write it (no version means the newest).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatasetRef {
    /// The dataset.
    pub name: DatasetName,
    /// A version number, or `None` for the newest.
    pub version: Option<u32>,
}

impl DatasetRef {
    /// Parses `NAME` or `NAME@VERSION`.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        match input.split_once('@') {
            None => Ok(DatasetRef {
                name: DatasetName::new(input)?,
                version: None,
            }),
            Some((name, version)) => {
                let number = version
                    .parse::<u32>()
                    .ok()
                    .filter(|v| *v > 0)
                    .ok_or_else(|| IdError {
                        what: "dataset reference",
                        input: input.to_string(),
                        expected: "expected `NAME` or `NAME@VERSION` with a version number of 1 or more, e.g. `customers@2`",
                    })?;
                Ok(DatasetRef {
                    name: DatasetName::new(name)?,
                    version: Some(number),
                })
            }
        }
    }
}

impl FromStr for DatasetRef {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        DatasetRef::parse(s)
    }
}

impl fmt::Display for DatasetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "{}@{}", self.name, v),
            None => write!(f, "{}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_model_refs() {
        let r = ModelRef::parse("churn@production").unwrap();
        assert_eq!(r.name.as_str(), "churn");
        assert_eq!(
            r.selector,
            VersionSelector::Alias(Alias::new("production").unwrap())
        );
        let r = ModelRef::parse("churn/2").unwrap();
        assert_eq!(r.selector, VersionSelector::Version(2));
        assert_eq!(r.to_string(), "churn/2");
    }

    #[test]
    fn rejects_bad_refs_with_what_is_accepted() {
        for bad in [
            "churn",
            "churn/0",
            "churn/x",
            "../etc@prod",
            "churn@",
            "@prod",
        ] {
            let err = ModelRef::parse(bad).unwrap_err().to_string();
            assert!(err.contains("expected"), "{bad}: {err}");
        }
        let err = ModelRef::parse("churn@v3").unwrap_err().to_string();
        assert!(err.contains("reserved"), "{err}");
    }

    #[test]
    fn names_reject_path_traversal_and_separators() {
        for bad in [
            "",
            "..",
            "a/b",
            "a\\b",
            ".hidden",
            "a b",
            "a;b",
            &"x".repeat(129),
        ] {
            assert!(ModelName::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ModelName::new("churn-v2.final_1").is_ok());
    }

    #[test]
    fn dataset_refs() {
        assert_eq!(DatasetRef::parse("customers").unwrap().version, None);
        assert_eq!(DatasetRef::parse("customers@3").unwrap().version, Some(3));
        let err = DatasetRef::parse("customers@0").unwrap_err().to_string();
        assert!(err.contains("NAME@VERSION"), "{err}");
    }
}
