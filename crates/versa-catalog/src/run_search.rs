//! MLflow's search language over runs (and, through the same parser,
//! experiments): filter strings such as
//! `metrics.acc > 0.8 and params.lr = '0.01' and attributes.status = 'FINISHED'`,
//! `order_by` terms such as `metrics.acc DESC`, and opaque page tokens.
//!
//! The grammar is MLflow's: comparisons joined by `AND` only; an identifier
//! is `<entity>.<key>` (entity `metrics`, `params`, `tags`, `attributes`,
//! `datasets` and their singular/alias spellings) or a bare attribute name,
//! with keys that need it quoted in backticks or double quotes; values are
//! single- or double-quoted strings, numbers, or parenthesised string lists
//! (for `IN` / `NOT IN`). The parser is hand-written so an error can say at
//! which character it stopped and what would have been accepted there.
//!
//! Evaluation is in Rust, not SQL: the catalog loads the searched
//! experiments' run headers plus only the params, latest metrics and tags
//! whose keys the filter or ordering names, filters and sorts them here, and
//! loads full details for the returned page only. That keeps one portable
//! query shape for both backends and MLflow's exact semantics (missing
//! values and NaN sort last in both directions; NaN never matches) at the
//! cost of reading every run header of the searched experiments — tens of
//! milliseconds for 10k runs.
//!
//! Must not know HTTP or JSON; the server maps [`CatalogError::Invalid`] to
//! MLflow's `INVALID_PARAMETER_VALUE`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use sqlx::{QueryBuilder, Row};
use versa_core::{Hasher, RunId};

use crate::error::db;
use crate::tracking::{DatasetInput, RUN_COLUMNS, TrackedRun};
use crate::types::{LifecycleStage, Run};
use crate::{Catalog, CatalogError, Result, decode_metric};

/// MLflow's ceiling on `max_results` for run and experiment searches.
pub const SEARCH_MAX_RESULTS_THRESHOLD: usize = 50_000;
/// MLflow's default `max_results` for run and experiment searches.
pub const SEARCH_MAX_RESULTS_DEFAULT: usize = 1_000;

/// Which runs or experiments a search sees, by lifecycle stage (MLflow's `ViewType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    /// Only live ones (the default).
    #[default]
    ActiveOnly,
    /// Only soft-deleted ones.
    DeletedOnly,
    /// Both.
    All,
}

impl ViewType {
    /// MLflow's spelling (`ACTIVE_ONLY`…).
    pub fn as_str(self) -> &'static str {
        match self {
            ViewType::ActiveOnly => "ACTIVE_ONLY",
            ViewType::DeletedOnly => "DELETED_ONLY",
            ViewType::All => "ALL",
        }
    }

    pub(crate) fn admits(self, stage: LifecycleStage) -> bool {
        match self {
            ViewType::ActiveOnly => stage == LifecycleStage::Active,
            ViewType::DeletedOnly => stage == LifecycleStage::Deleted,
            ViewType::All => true,
        }
    }
}

impl FromStr for ViewType {
    type Err = CatalogError;
    /// Accepts the names and protobuf's enum numbers (1, 2, 3).
    fn from_str(text: &str) -> Result<ViewType> {
        match text.trim().to_ascii_uppercase().as_str() {
            "ACTIVE_ONLY" | "1" => Ok(ViewType::ActiveOnly),
            "DELETED_ONLY" | "2" => Ok(ViewType::DeletedOnly),
            "ALL" | "3" => Ok(ViewType::All),
            _ => Err(CatalogError::Invalid {
                what: "view type",
                value: text.to_string(),
                expected: "ACTIVE_ONLY, DELETED_ONLY or ALL".to_string(),
            }),
        }
    }
}

/// A run search (MLflow's `SearchRuns`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSearch {
    /// The experiments searched; none finds nothing.
    pub experiment_ids: Vec<String>,
    /// The filter (empty: every run).
    pub filter: String,
    /// Live, deleted or all runs.
    pub view: ViewType,
    /// Page size, 1 to [`SEARCH_MAX_RESULTS_THRESHOLD`].
    pub max_results: usize,
    /// Ordering terms; runs tie-break by start time (newest first), then run id.
    pub order_by: Vec<String>,
    /// The token of the page to read (`None`: the first).
    pub page_token: Option<String>,
}

impl RunSearch {
    /// Every live run of these experiments, newest first, first page of the default size.
    pub fn new(experiment_ids: Vec<String>) -> RunSearch {
        RunSearch {
            experiment_ids,
            filter: String::new(),
            view: ViewType::ActiveOnly,
            max_results: SEARCH_MAX_RESULTS_DEFAULT,
            order_by: Vec::new(),
            page_token: None,
        }
    }
}

/// One page of a run search.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    /// The runs, in order, with params, latest metrics, tags and inputs.
    pub runs: Vec<TrackedRun>,
    /// The token for the next page, when there are more runs.
    pub next_page_token: Option<String>,
}

// ---------------------------------------------------------------------------
// Parsing: text → clauses (shared with experiment search).

/// Where an identifier's key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

impl Entity {
    fn from_word(word: &str) -> Option<Entity> {
        match word {
            "metric" | "metrics" => Some(Entity::Metric),
            "param" | "params" | "parameter" | "parameters" => Some(Entity::Param),
            "tag" | "tags" => Some(Entity::Tag),
            "attribute" | "attributes" | "attr" | "run" => Some(Entity::Attribute),
            "dataset" | "datasets" => Some(Entity::Dataset),
            _ => None,
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Entity::Metric => "metrics",
            Entity::Param => "params",
            Entity::Tag => "tags",
            Entity::Attribute => "attributes",
            Entity::Dataset => "datasets",
        }
    }
}

/// A comparison operator as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Comparator {
    fn as_str(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "!=",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
            Comparator::Like => "LIKE",
            Comparator::ILike => "ILIKE",
            Comparator::In => "IN",
            Comparator::NotIn => "NOT IN",
            Comparator::IsNull => "IS NULL",
            Comparator::IsNotNull => "IS NOT NULL",
        }
    }
}

/// A value as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Number(f64),
    Text(String),
    List(Vec<String>),
    Nothing,
}

/// One parsed comparison, before it is checked against what the searched
/// thing supports.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    pub(crate) entity: Entity,
    pub(crate) key: String,
    pub(crate) comparator: Comparator,
    pub(crate) value: Literal,
    /// 1-based character where the clause starts, for messages.
    pub(crate) at: usize,
}

/// An identifier: its entity (attribute when written without a prefix) and key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identifier {
    pub(crate) entity: Entity,
    pub(crate) key: String,
    pub(crate) at: usize,
}

const IDENTIFIER_HINT: &str = "an identifier such as `metrics.accuracy`, `params.lr`, \
     `tags.team`, `attributes.status` or `metrics.`my metric``";
const COMPARATOR_HINT: &str =
    "a comparator: =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL or IS NOT NULL";
const VALUE_HINT: &str =
    "a value: a quoted string ('x'), a number (0.8) or a list of quoted strings (('a', 'b'))";

struct Parser<'a> {
    what: &'static str,
    text: &'a str,
    chars: Vec<char>,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(what: &'static str, text: &'a str) -> Parser<'a> {
        Parser {
            what,
            text,
            chars: text.chars().collect(),
            at: 0,
        }
    }

    fn error(&self, at: usize, message: impl std::fmt::Display) -> CatalogError {
        let found = match self.chars.get(at) {
            None => "the end of the text".to_string(),
            Some(_) => {
                let rest: String = self.chars[at..].iter().take(12).collect();
                format!("`{rest}`")
            }
        };
        CatalogError::Invalid {
            what: self.what,
            value: self.text.to_string(),
            expected: format!("at character {}: expected {message}, found {found}", at + 1),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn at_end(&mut self) -> bool {
        self.skip_spaces();
        self.at >= self.chars.len()
    }

    /// A run of word characters (letters, digits, `_`), possibly empty.
    fn word(&mut self) -> String {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    /// Consumes `keyword` (case-insensitive, whole word) if it is next.
    fn keyword(&mut self, keyword: &str) -> bool {
        self.skip_spaces();
        let save = self.at;
        let word = self.word();
        if word.eq_ignore_ascii_case(keyword) {
            true
        } else {
            self.at = save;
            false
        }
    }

    /// A quoted run of characters: `quote` … `quote`, the quote doubled inside.
    fn quoted(&mut self, quote: char, what: &str) -> Result<String> {
        let start = self.at;
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(self.error(
                        self.at,
                        format!(
                            "the closing {quote} of the {what} opened at character {}",
                            start + 1
                        ),
                    ));
                }
                Some(c) if c == quote => {
                    if self.chars.get(self.at + 1) == Some(&quote) {
                        out.push(quote);
                        self.at += 2;
                    } else {
                        self.at += 1;
                        return Ok(out);
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn identifier(&mut self) -> Result<Identifier> {
        self.skip_spaces();
        let start = self.at;
        if let Some(quote @ ('"' | '`')) = self.peek() {
            let key = self.quoted(quote, "identifier")?;
            return Ok(Identifier {
                entity: Entity::Attribute,
                key,
                at: start + 1,
            });
        }
        let word = self.word();
        if word.is_empty() {
            return Err(self.error(start, IDENTIFIER_HINT));
        }
        if self.peek() != Some('.') {
            return Ok(Identifier {
                entity: Entity::Attribute,
                key: word,
                at: start + 1,
            });
        }
        let Some(entity) = Entity::from_word(&word) else {
            return Err(self.error(
                start,
                format!(
                    "an entity before `.`: metrics, params, tags, attributes or datasets \
                     (got `{word}`)"
                ),
            ));
        };
        self.at += 1;
        let key = match self.peek() {
            Some(quote @ ('"' | '`')) => self.quoted(quote, "key")?,
            _ => {
                let key_start = self.at;
                while self.peek().is_some_and(|c| {
                    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | ':')
                }) {
                    self.at += 1;
                }
                if self.at == key_start {
                    return Err(self.error(
                        key_start,
                        format!(
                            "a key after `{word}.` (quote it in backticks if it has spaces: \
                             {word}.`my key`)"
                        ),
                    ));
                }
                self.chars[key_start..self.at].iter().collect()
            }
        };
        Ok(Identifier {
            entity,
            key,
            at: start + 1,
        })
    }

    fn comparator(&mut self) -> Result<Comparator> {
        self.skip_spaces();
        let start = self.at;
        let two: String = self.chars[self.at..].iter().take(2).collect();
        let symbolic = match two.as_str() {
            "!=" | "<>" => Some((Comparator::Ne, 2)),
            "<=" => Some((Comparator::Le, 2)),
            ">=" => Some((Comparator::Ge, 2)),
            "==" => Some((Comparator::Eq, 2)),
            _ => match two.chars().next() {
                Some('=') => Some((Comparator::Eq, 1)),
                Some('<') => Some((Comparator::Lt, 1)),
                Some('>') => Some((Comparator::Gt, 1)),
                _ => None,
            },
        };
        if let Some((comparator, width)) = symbolic {
            self.at += width;
            return Ok(comparator);
        }
        let word = self.word().to_ascii_uppercase();
        let comparator = match word.as_str() {
            "LIKE" => Comparator::Like,
            "ILIKE" => Comparator::ILike,
            "IN" => Comparator::In,
            "NOT" if self.keyword("IN") => Comparator::NotIn,
            "IS" if self.keyword("NULL") => Comparator::IsNull,
            "IS" if self.keyword("NOT") && self.keyword("NULL") => Comparator::IsNotNull,
            _ => return Err(self.error(start, COMPARATOR_HINT)),
        };
        Ok(comparator)
    }

    fn number(&mut self) -> Option<f64> {
        let start = self.at;
        let mut end = self.at;
        if matches!(self.chars.get(end), Some('+' | '-')) {
            end += 1;
        }
        let digits_start = end;
        while self
            .chars
            .get(end)
            .is_some_and(|c| c.is_ascii_digit() || *c == '.')
        {
            end += 1;
        }
        if end == digits_start {
            return None;
        }
        if matches!(self.chars.get(end), Some('e' | 'E')) {
            let mut exponent = end + 1;
            if matches!(self.chars.get(exponent), Some('+' | '-')) {
                exponent += 1;
            }
            if self.chars.get(exponent).is_some_and(char::is_ascii_digit) {
                end = exponent;
                while self.chars.get(end).is_some_and(char::is_ascii_digit) {
                    end += 1;
                }
            }
        }
        let text: String = self.chars[start..end].iter().collect();
        let value = text.parse::<f64>().ok()?;
        self.at = end;
        Some(value)
    }

    fn value(&mut self, comparator: Comparator) -> Result<Literal> {
        if matches!(comparator, Comparator::IsNull | Comparator::IsNotNull) {
            return Ok(Literal::Nothing);
        }
        self.skip_spaces();
        let start = self.at;
        match self.peek() {
            Some(quote @ ('\'' | '"')) => Ok(Literal::Text(self.quoted(quote, "string")?)),
            Some('(') => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_spaces();
                    match self.peek() {
                        Some(quote @ ('\'' | '"')) => items.push(self.quoted(quote, "string")?),
                        _ => {
                            return Err(self.error(
                                self.at,
                                "a quoted string in the list (lists hold strings: ('a', 'b'))",
                            ));
                        }
                    }
                    self.skip_spaces();
                    match self.peek() {
                        Some(',') => self.at += 1,
                        Some(')') => {
                            self.at += 1;
                            return Ok(Literal::List(items));
                        }
                        _ => return Err(self.error(self.at, "`,` or `)` in the list")),
                    }
                }
            }
            _ => match self.number() {
                Some(number) => {
                    // `0.8abc` is not a number followed by nothing.
                    if self
                        .peek()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
                    {
                        Err(self.error(start, VALUE_HINT))
                    } else {
                        Ok(Literal::Number(number))
                    }
                }
                None => Err(self.error(start, VALUE_HINT)),
            },
        }
    }
}

/// Parses a filter into its comparisons (empty or blank: none).
pub(crate) fn parse_filter(what: &'static str, text: &str) -> Result<Vec<Clause>> {
    let mut parser = Parser::new(what, text);
    let mut clauses = Vec::new();
    if parser.at_end() {
        return Ok(clauses);
    }
    loop {
        let identifier = parser.identifier()?;
        let comparator = parser.comparator()?;
        let value = parser.value(comparator)?;
        clauses.push(Clause {
            entity: identifier.entity,
            key: identifier.key,
            comparator,
            value,
            at: identifier.at,
        });
        if parser.at_end() {
            return Ok(clauses);
        }
        let before = parser.at;
        if !parser.keyword("AND") {
            let message = if parser.keyword("OR") {
                "`AND` (MLflow filters join comparisons with AND only; OR is not supported)"
            } else {
                "`AND` or the end of the filter"
            };
            return Err(parser.error(before, message));
        }
        if parser.at_end() {
            return Err(parser.error(parser.at, "a comparison after AND"));
        }
    }
}

/// Parses one `order_by` term: an identifier, then optionally ASC or DESC.
pub(crate) fn parse_order_term(what: &'static str, text: &str) -> Result<(Identifier, bool)> {
    let mut parser = Parser::new(what, text);
    let identifier = parser.identifier()?;
    let ascending = if parser.keyword("DESC") {
        false
    } else {
        parser.keyword("ASC");
        true
    };
    if !parser.at_end() {
        return Err(parser.error(parser.at, "ASC, DESC or the end of the order_by term"));
    }
    Ok((identifier, ascending))
}

/// `LIKE` matching: `%` is any run of characters, `_` any one character.
pub(crate) fn like(text: &str, pattern: &str, case: Case) -> bool {
    let fold = |s: &str| -> Vec<char> {
        match case {
            Case::Sensitive => s.chars().collect(),
            Case::Insensitive => s.chars().flat_map(char::to_lowercase).collect(),
        }
    };
    let text = fold(text);
    let pattern = fold(pattern);
    // Greedy matching with backtracking to the last `%` (linear in practice).
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('%') => {
                star = Some((p, t));
                p += 1;
            }
            Some('_') => {
                t += 1;
                p += 1;
            }
            Some(c) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '%')
}

/// Whether `ILIKE` folds case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Sensitive,
    Insensitive,
}

/// A test on a text value that may be missing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TextTest {
    Eq(String),
    Ne(String),
    Like(String, Case),
    In(Vec<String>),
    NotIn(Vec<String>),
    IsNull,
    IsNotNull,
}

impl TextTest {
    /// Missing values match only `IS NULL`, as a SQL join would have it.
    pub(crate) fn test(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (TextTest::IsNull, value) => value.is_none(),
            (TextTest::IsNotNull, value) => value.is_some(),
            (_, None) => false,
            (TextTest::Eq(expected), Some(value)) => value == expected,
            (TextTest::Ne(expected), Some(value)) => value != expected,
            (TextTest::Like(pattern, case), Some(value)) => like(value, pattern, *case),
            (TextTest::In(items), Some(value)) => items.iter().any(|item| item == value),
            (TextTest::NotIn(items), Some(value)) => !items.iter().any(|item| item == value),
        }
    }
}

/// A numeric comparison; missing and NaN values never match.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NumberTest {
    comparator: Comparator,
    value: f64,
}

impl NumberTest {
    pub(crate) fn test(&self, value: Option<f64>) -> bool {
        let Some(value) = value.filter(|v| !v.is_nan()) else {
            return false;
        };
        match self.comparator {
            Comparator::Eq => value == self.value,
            Comparator::Ne => value != self.value,
            Comparator::Lt => value < self.value,
            Comparator::Le => value <= self.value,
            Comparator::Gt => value > self.value,
            Comparator::Ge => value >= self.value,
            _ => false,
        }
    }
}

impl Clause {
    fn describe(&self) -> String {
        format!(
            "{}.{} {}",
            self.entity.plural(),
            self.key,
            self.comparator.as_str()
        )
    }

    /// The clause as a numeric test, or why it is not one.
    pub(crate) fn number_test(&self, parser_text: &str, what: &'static str) -> Result<NumberTest> {
        let invalid = |message: String| CatalogError::Invalid {
            what,
            value: parser_text.to_string(),
            expected: format!("in the comparison at character {}: {message}", self.at),
        };
        if !matches!(
            self.comparator,
            Comparator::Eq
                | Comparator::Ne
                | Comparator::Lt
                | Comparator::Le
                | Comparator::Gt
                | Comparator::Ge
        ) {
            return Err(invalid(format!(
                "`{}` is numeric and takes =, !=, <, <=, > or >=, not {}",
                self.key,
                self.comparator.as_str()
            )));
        }
        match &self.value {
            Literal::Number(value) => Ok(NumberTest {
                comparator: self.comparator,
                value: *value,
            }),
            other => Err(invalid(format!(
                "`{}` is numeric and must be compared with a number (e.g. {} 0.5), got {}",
                self.describe(),
                self.describe(),
                describe_literal(other)
            ))),
        }
    }

    /// The clause as a text test, or why it is not one. `lists` says
    /// whether IN / NOT IN are allowed, `nulls` whether IS [NOT] NULL are.
    pub(crate) fn text_test(
        &self,
        parser_text: &str,
        what: &'static str,
        lists: bool,
        nulls: bool,
    ) -> Result<TextTest> {
        let invalid = |message: String| CatalogError::Invalid {
            what,
            value: parser_text.to_string(),
            expected: format!("in the comparison at character {}: {message}", self.at),
        };
        let mut accepted = vec!["=", "!=", "LIKE", "ILIKE"];
        if lists {
            accepted.extend(["IN", "NOT IN"]);
        }
        if nulls {
            accepted.extend(["IS NULL", "IS NOT NULL"]);
        }
        let not_accepted = || {
            invalid(format!(
                "`{}` is text and takes {}, not {}",
                self.key,
                accepted.join(", "),
                self.comparator.as_str()
            ))
        };
        let text = || match &self.value {
            Literal::Text(text) => Ok(text.clone()),
            other => Err(invalid(format!(
                "`{}` takes a quoted string (e.g. {} 'x'), got {}",
                self.describe(),
                self.describe(),
                describe_literal(other)
            ))),
        };
        let list = || match &self.value {
            Literal::List(items) if !items.is_empty() => Ok(items.clone()),
            other => Err(invalid(format!(
                "`{}` takes a non-empty list of quoted strings (e.g. ('a', 'b')), got {}",
                self.describe(),
                describe_literal(other)
            ))),
        };
        match self.comparator {
            Comparator::Eq => Ok(TextTest::Eq(text()?)),
            Comparator::Ne => Ok(TextTest::Ne(text()?)),
            Comparator::Like => Ok(TextTest::Like(text()?, Case::Sensitive)),
            Comparator::ILike => Ok(TextTest::Like(text()?, Case::Insensitive)),
            Comparator::In if lists => Ok(TextTest::In(list()?)),
            Comparator::NotIn if lists => Ok(TextTest::NotIn(list()?)),
            Comparator::IsNull if nulls => Ok(TextTest::IsNull),
            Comparator::IsNotNull if nulls => Ok(TextTest::IsNotNull),
            _ => Err(not_accepted()),
        }
    }
}

fn describe_literal(literal: &Literal) -> String {
    match literal {
        Literal::Number(number) => format!("the number {number}"),
        Literal::Text(text) => format!("the string '{text}'"),
        Literal::List(items) => format!("a list of {} strings", items.len()),
        Literal::Nothing => "no value".to_string(),
    }
}

// ---------------------------------------------------------------------------
// Runs: clauses → typed conditions, evaluation and ordering.

/// A run attribute that can be searched and ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunAttribute {
    RunId,
    RunName,
    Status,
    UserId,
    ArtifactUri,
    StartTime,
    EndTime,
}

const RUN_ATTRIBUTES: &str =
    "run_id, run_name, status, user_id, artifact_uri, start_time, end_time (or created)";

impl RunAttribute {
    fn from_key(key: &str) -> Option<RunAttribute> {
        match key {
            "run_id" => Some(RunAttribute::RunId),
            "run_name" | "run name" | "Run name" | "Run Name" => Some(RunAttribute::RunName),
            "status" => Some(RunAttribute::Status),
            "user_id" => Some(RunAttribute::UserId),
            "artifact_uri" => Some(RunAttribute::ArtifactUri),
            "start_time" | "created" | "Created" => Some(RunAttribute::StartTime),
            "end_time" => Some(RunAttribute::EndTime),
            _ => None,
        }
    }

    fn is_numeric(self) -> bool {
        matches!(self, RunAttribute::StartTime | RunAttribute::EndTime)
    }

    fn text(self, run: &Run) -> Option<&str> {
        match self {
            RunAttribute::RunId => Some(run.run_id.as_str()),
            RunAttribute::RunName => Some(&run.run_name),
            RunAttribute::Status => Some(run.status.as_str()),
            RunAttribute::UserId => Some(&run.user_id),
            RunAttribute::ArtifactUri => Some(&run.artifact_uri),
            RunAttribute::StartTime | RunAttribute::EndTime => None,
        }
    }

    fn number(self, run: &Run) -> Option<f64> {
        match self {
            RunAttribute::StartTime => Some(run.start_time as f64),
            RunAttribute::EndTime => run.end_time.map(|t| t as f64),
            _ => None,
        }
    }
}

/// A dataset field a run filter can test (`datasets.name = 'x'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatasetField {
    Name,
    Digest,
    Context,
}

/// One checked run condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RunCondition {
    Metric(String, NumberTest),
    Param(String, TextTest),
    Tag(String, TextTest),
    Text(RunAttribute, TextTest),
    Number(RunAttribute, NumberTest),
    Dataset(DatasetField, TextTest),
}

/// A checked run filter: every condition must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct RunFilter {
    pub(crate) conditions: Vec<RunCondition>,
}

const RUN_FILTER: &str = "run search filter";
const RUN_ORDER: &str = "run search order_by";

impl RunFilter {
    pub(crate) fn parse(text: &str) -> Result<RunFilter> {
        let mut conditions = Vec::new();
        for clause in parse_filter(RUN_FILTER, text)? {
            let condition = match clause.entity {
                Entity::Metric => {
                    RunCondition::Metric(clause.key.clone(), clause.number_test(text, RUN_FILTER)?)
                }
                Entity::Param => RunCondition::Param(
                    clause.key.clone(),
                    clause.text_test(text, RUN_FILTER, false, true)?,
                ),
                Entity::Tag => RunCondition::Tag(
                    clause.key.clone(),
                    clause.text_test(text, RUN_FILTER, false, true)?,
                ),
                Entity::Attribute => {
                    let Some(attribute) = RunAttribute::from_key(&clause.key) else {
                        return Err(CatalogError::Invalid {
                            what: RUN_FILTER,
                            value: text.to_string(),
                            expected: format!(
                                "in the comparison at character {}: unknown attribute `{}`; \
                                 searchable attributes are {RUN_ATTRIBUTES} (metrics, params and \
                                 tags need their prefix: metrics.{}, params.{}, tags.{})",
                                clause.at, clause.key, clause.key, clause.key, clause.key
                            ),
                        });
                    };
                    if attribute.is_numeric() {
                        RunCondition::Number(attribute, clause.number_test(text, RUN_FILTER)?)
                    } else {
                        RunCondition::Text(
                            attribute,
                            clause.text_test(text, RUN_FILTER, true, false)?,
                        )
                    }
                }
                Entity::Dataset => {
                    let field = match clause.key.as_str() {
                        "name" => DatasetField::Name,
                        "digest" => DatasetField::Digest,
                        "context" => DatasetField::Context,
                        other => {
                            return Err(CatalogError::Invalid {
                                what: RUN_FILTER,
                                value: text.to_string(),
                                expected: format!(
                                    "in the comparison at character {}: unknown dataset field \
                                     `{other}`; use datasets.name, datasets.digest or \
                                     datasets.context",
                                    clause.at
                                ),
                            });
                        }
                    };
                    RunCondition::Dataset(field, clause.text_test(text, RUN_FILTER, true, false)?)
                }
            };
            conditions.push(condition);
        }
        Ok(RunFilter { conditions })
    }

    fn matches(&self, candidate: &Candidate) -> bool {
        self.conditions.iter().all(|condition| match condition {
            RunCondition::Metric(key, test) => test.test(candidate.metrics.get(key).copied()),
            RunCondition::Param(key, test) => {
                test.test(candidate.params.get(key).map(String::as_str))
            }
            RunCondition::Tag(key, test) => test.test(candidate.tags.get(key).map(String::as_str)),
            RunCondition::Text(attribute, test) => test.test(attribute.text(&candidate.run)),
            RunCondition::Number(attribute, test) => test.test(attribute.number(&candidate.run)),
            RunCondition::Dataset(field, test) => candidate.datasets.iter().any(|input| {
                let value = match field {
                    DatasetField::Name => Some(input.name.as_str()),
                    DatasetField::Digest => Some(input.digest.as_str()),
                    DatasetField::Context => {
                        input.tags.get("mlflow.data.context").map(String::as_str)
                    }
                };
                test.test(value)
            }),
        })
    }
}

/// A filter condition that SQL tests exactly as [`RunFilter::matches`]
/// does, put into the candidate query so runs that cannot match are never
/// read. The Rust filter still runs over what comes back, so a narrowing
/// may only ever keep too much, never too little.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Narrowing {
    /// A param (`params`) or tag (`run_tags`) present with this value
    /// (`=`; text equality is exact on both backends).
    Text {
        table: &'static str,
        key: String,
        value: String,
    },
    /// A latest metric that is not NaN, compared with a number that is not
    /// NaN (a NaN bound would be NULL in SQL, where `!=` then keeps nothing).
    Metric {
        key: String,
        comparator: &'static str,
        value: f64,
    },
}

impl RunFilter {
    /// The conditions SQL can test exactly (see [`Narrowing`]).
    pub(crate) fn narrowings(&self) -> Vec<Narrowing> {
        let text = |table: &'static str, key: &String, test: &TextTest| match test {
            TextTest::Eq(value) => Some(Narrowing::Text {
                table,
                key: key.clone(),
                value: value.clone(),
            }),
            _ => None,
        };
        self.conditions
            .iter()
            .filter_map(|condition| match condition {
                RunCondition::Param(key, test) => text("params", key, test),
                RunCondition::Tag(key, test) => text("run_tags", key, test),
                // A NumberTest only holds =, !=, <, <=, > or >= (see `number_test`).
                RunCondition::Metric(key, test) if !test.value.is_nan() => {
                    Some(Narrowing::Metric {
                        key: key.clone(),
                        comparator: test.comparator.as_str(),
                        value: test.value,
                    })
                }
                _ => None,
            })
            .collect()
    }
}

/// What a run is ordered by.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RunSortKey {
    Metric(String),
    Param(String),
    Tag(String),
    Attribute(RunAttribute),
}

/// One parsed `order_by` term.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunOrder {
    pub(crate) key: RunSortKey,
    pub(crate) ascending: bool,
}

impl RunOrder {
    pub(crate) fn parse(text: &str) -> Result<RunOrder> {
        let (identifier, ascending) = parse_order_term(RUN_ORDER, text)?;
        let key = match identifier.entity {
            Entity::Metric => RunSortKey::Metric(identifier.key),
            Entity::Param => RunSortKey::Param(identifier.key),
            Entity::Tag => RunSortKey::Tag(identifier.key),
            Entity::Attribute => match RunAttribute::from_key(&identifier.key) {
                Some(attribute) => RunSortKey::Attribute(attribute),
                None => {
                    return Err(CatalogError::Invalid {
                        what: RUN_ORDER,
                        value: text.to_string(),
                        expected: format!(
                            "unknown attribute `{}`; order by {RUN_ATTRIBUTES}, or by \
                             metrics.<key>, params.<key> or tags.<key>",
                            identifier.key
                        ),
                    });
                }
            },
            Entity::Dataset => {
                return Err(CatalogError::Invalid {
                    what: RUN_ORDER,
                    value: text.to_string(),
                    expected: "runs cannot be ordered by dataset fields; order by attributes, \
                               metrics, params or tags"
                        .to_string(),
                });
            }
        };
        Ok(RunOrder { key, ascending })
    }

    fn value(&self, candidate: &Candidate) -> Option<SortValue> {
        match &self.key {
            RunSortKey::Metric(key) => candidate
                .metrics
                .get(key)
                .filter(|v| !v.is_nan())
                .map(|v| SortValue::Number(*v)),
            RunSortKey::Param(key) => candidate
                .params
                .get(key)
                .map(|v| SortValue::Text(v.clone())),
            RunSortKey::Tag(key) => candidate.tags.get(key).map(|v| SortValue::Text(v.clone())),
            RunSortKey::Attribute(attribute) => match attribute.number(&candidate.run) {
                Some(number) => Some(SortValue::Number(number)),
                None => attribute
                    .text(&candidate.run)
                    .map(|v| SortValue::Text(v.to_string())),
            },
        }
    }
}

/// A value runs (or experiments) are sorted by.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SortValue {
    Number(f64),
    Text(String),
}

/// Orders two optional values: missing (and NaN, mapped to missing by the
/// caller) last in both directions, as MLflow does.
pub(crate) fn compare_sort_values(
    left: &Option<SortValue>,
    right: &Option<SortValue>,
    ascending: bool,
) -> Ordering {
    match (left, right) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(left), Some(right)) => {
            let order = match (left, right) {
                (SortValue::Number(a), SortValue::Number(b)) => a.total_cmp(b),
                (SortValue::Text(a), SortValue::Text(b)) => a.cmp(b),
                (SortValue::Number(_), SortValue::Text(_)) => Ordering::Less,
                (SortValue::Text(_), SortValue::Number(_)) => Ordering::Greater,
            };
            if ascending { order } else { order.reverse() }
        }
    }
}

/// A run with the values the search needs.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) run: Run,
    pub(crate) params: HashMap<String, String>,
    pub(crate) metrics: HashMap<String, f64>,
    pub(crate) tags: HashMap<String, String>,
    pub(crate) datasets: Vec<DatasetInput>,
}

/// Filters, orders and cuts one page from the candidates; returns the
/// page's runs and the offset of the next page, if any.
pub(crate) fn select_page(
    mut candidates: Vec<Candidate>,
    filter: &RunFilter,
    order: &[RunOrder],
    offset: usize,
    max_results: usize,
) -> (Vec<Run>, Option<usize>) {
    candidates.retain(|candidate| filter.matches(candidate));
    let mut keyed: Vec<(Vec<Option<SortValue>>, Candidate)> = candidates
        .into_iter()
        .map(|candidate| {
            let values = order.iter().map(|term| term.value(&candidate)).collect();
            (values, candidate)
        })
        .collect();
    keyed.sort_by(|(left_values, left), (right_values, right)| {
        for (term, (a, b)) in order.iter().zip(left_values.iter().zip(right_values)) {
            let ordering = compare_sort_values(a, b, term.ascending);
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        right
            .run
            .start_time
            .cmp(&left.run.start_time)
            .then_with(|| left.run.run_id.cmp(&right.run.run_id))
    });
    let total = keyed.len();
    let end = offset.saturating_add(max_results).min(total);
    let page = keyed
        .into_iter()
        .skip(offset)
        .take(end.saturating_sub(offset))
        .map(|(_, candidate)| candidate.run)
        .collect();
    (page, (end < total).then_some(end))
}

// ---------------------------------------------------------------------------
// Page tokens.

/// The digest of what a search asked (everything but the page position and
/// size), so a token is only accepted back by the same search.
pub(crate) fn search_scope(parts: &[&str]) -> String {
    let mut hasher = Hasher::new();
    for part in parts {
        hasher.update_field(part.as_bytes());
    }
    hasher.finish().to_hex()[..16].to_string()
}

/// An opaque token for the page starting at `offset` of the search `scope`.
pub(crate) fn encode_page_token(offset: usize, scope: &str) -> String {
    format!("v1:{offset}:{scope}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The offset a token stands for, checked against the search it came from.
pub(crate) fn decode_page_token(token: Option<&str>, scope: &str) -> Result<usize> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let invalid = |why: &str| CatalogError::Invalid {
        what: "page token",
        value: token.to_string(),
        expected: format!(
            "{why}; pass back the next_page_token of the previous page of this same search"
        ),
    };
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect();
    let text = bytes
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| invalid("it is not a token this server issued"))?;
    let mut parts = text.splitn(3, ':');
    let (Some("v1"), Some(offset), Some(token_scope)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("it is not a token this server issued"));
    };
    let offset: usize = offset
        .parse()
        .map_err(|_| invalid("it is not a token this server issued"))?;
    if token_scope != scope {
        return Err(invalid(
            "it belongs to a different search (other experiments, filter, order or view)",
        ));
    }
    Ok(offset)
}

/// Checks a page size against MLflow's bounds.
pub(crate) fn check_page_size(max_results: usize) -> Result<()> {
    if max_results == 0 || max_results > SEARCH_MAX_RESULTS_THRESHOLD {
        return Err(CatalogError::Invalid {
            what: "max_results",
            value: max_results.to_string(),
            expected: format!("a page size from 1 to {SEARCH_MAX_RESULTS_THRESHOLD}"),
        });
    }
    Ok(())
}

impl Catalog {
    /// Searches runs as MLflow's `SearchRuns` does (see the module doc for
    /// the grammar and how it is evaluated).
    pub async fn search_runs(&self, search: &RunSearch) -> Result<RunPage> {
        check_page_size(search.max_results)?;
        let filter = RunFilter::parse(&search.filter)?;
        let order = search
            .order_by
            .iter()
            .map(|term| RunOrder::parse(term))
            .collect::<Result<Vec<_>>>()?;
        let mut scope_parts: Vec<&str> = vec!["runs", search.view.as_str(), &search.filter];
        scope_parts.extend(search.experiment_ids.iter().map(String::as_str));
        scope_parts.push("|");
        scope_parts.extend(search.order_by.iter().map(String::as_str));
        let scope = search_scope(&scope_parts);
        let offset = decode_page_token(search.page_token.as_deref(), &scope)?;
        if search.experiment_ids.is_empty() {
            return Ok(RunPage {
                runs: Vec::new(),
                next_page_token: None,
            });
        }

        let mut needs = Needs::default();
        for condition in &filter.conditions {
            match condition {
                RunCondition::Metric(key, _) => needs.metrics.insert(key.clone()),
                RunCondition::Param(key, _) => needs.params.insert(key.clone()),
                RunCondition::Tag(key, _) => needs.tags.insert(key.clone()),
                RunCondition::Dataset(..) => {
                    needs.datasets = true;
                    true
                }
                RunCondition::Text(..) | RunCondition::Number(..) => false,
            };
        }
        for term in &order {
            match &term.key {
                RunSortKey::Metric(key) => needs.metrics.insert(key.clone()),
                RunSortKey::Param(key) => needs.params.insert(key.clone()),
                RunSortKey::Tag(key) => needs.tags.insert(key.clone()),
                RunSortKey::Attribute(_) => false,
            };
        }
        let candidates = dispatch!(self, ops => {
            ops.search_candidates(&search.experiment_ids, search.view, &filter.narrowings(), &needs)
                .await
        })?;
        let (page, next) = select_page(candidates, &filter, &order, offset, search.max_results);
        let runs = self.runs_with_details(page).await?;
        Ok(RunPage {
            runs,
            next_page_token: next.map(|offset| encode_page_token(offset, &scope)),
        })
    }
}

/// The keyed values a search reads besides run headers.
#[derive(Debug, Default)]
pub(crate) struct Needs {
    metrics: BTreeSet<String>,
    params: BTreeSet<String>,
    tags: BTreeSet<String>,
    datasets: bool,
}

for_each_backend! {
    impl Ops<'_> {
        pub(crate) async fn search_candidates(
            &self,
            experiment_ids: &[String],
            view: ViewType,
            narrowings: &[Narrowing],
            needs: &Needs,
        ) -> Result<Vec<Candidate>> {
            let operation = "search runs";
            // The runs in scope: the experiments, the view, and whatever the
            // filter lets SQL rule out; shared by every query below.
            let push_scope = |query: &mut QueryBuilder<Db>| {
                query.push("experiment_id IN (");
                let mut ids = query.separated(", ");
                for id in experiment_ids {
                    ids.push_bind(id.clone());
                }
                query.push(")");
                match view {
                    ViewType::ActiveOnly => {
                        query.push(" AND lifecycle_stage = 'active'");
                    }
                    ViewType::DeletedOnly => {
                        query.push(" AND lifecycle_stage = 'deleted'");
                    }
                    ViewType::All => {}
                }
                for narrowing in narrowings {
                    match narrowing {
                        Narrowing::Text { table, key, value } => {
                            query.push(format!(
                                " AND EXISTS (SELECT 1 FROM {table} n \
                                 WHERE n.run_id = runs.run_id AND n.key = "
                            ));
                            query.push_bind(key.clone());
                            query.push(" AND n.value = ");
                            query.push_bind(value.clone());
                            query.push(")");
                        }
                        Narrowing::Metric {
                            key,
                            comparator,
                            value,
                        } => {
                            query.push(
                                " AND EXISTS (SELECT 1 FROM latest_metrics n \
                                 WHERE n.run_id = runs.run_id AND n.key = ",
                            );
                            query.push_bind(key.clone());
                            query.push(" AND NOT n.is_nan AND n.value ");
                            query.push(comparator);
                            query.push(" ");
                            query.push_bind(*value);
                            query.push(")");
                        }
                    }
                }
            };
            let mut select =
                QueryBuilder::<Db>::new(format!("SELECT {RUN_COLUMNS} FROM runs WHERE "));
            push_scope(&mut select);
            let rows = select
                .build()
                .fetch_all(self.pool())
                .await
                .map_err(db(operation))?;
            let mut candidates: BTreeMap<String, Candidate> = BTreeMap::new();
            for row in &rows {
                let run = self.run_row(row)?;
                candidates.insert(
                    run.run_id.to_string(),
                    Candidate {
                        run,
                        params: HashMap::new(),
                        metrics: HashMap::new(),
                        tags: HashMap::new(),
                        datasets: Vec::new(),
                    },
                );
            }
            for (table, keys) in [("params", &needs.params), ("run_tags", &needs.tags)] {
                if keys.is_empty() {
                    continue;
                }
                let mut query = QueryBuilder::<Db>::new("SELECT x.run_id, x.key, x.value FROM ");
                query.push(table);
                query.push(" x WHERE x.key IN (");
                let mut wanted = query.separated(", ");
                for key in keys {
                    wanted.push_bind(key.clone());
                }
                query.push(") AND x.run_id IN (SELECT run_id FROM runs WHERE ");
                push_scope(&mut query);
                query.push(")");
                let rows = query
                    .build()
                    .fetch_all(self.pool())
                    .await
                    .map_err(db(operation))?;
                for row in &rows {
                    let run_id: String = row.try_get(0).map_err(db(operation))?;
                    let key: String = row.try_get(1).map_err(db(operation))?;
                    let value: String = row.try_get(2).map_err(db(operation))?;
                    if let Some(candidate) = candidates.get_mut(&run_id) {
                        if table == "params" {
                            candidate.params.insert(key, value);
                        } else {
                            candidate.tags.insert(key, value);
                        }
                    }
                }
            }
            if !needs.metrics.is_empty() {
                let mut query = QueryBuilder::<Db>::new(
                    "SELECT x.run_id, x.key, x.value, x.is_nan FROM latest_metrics x \
                     WHERE x.key IN (",
                );
                let mut wanted = query.separated(", ");
                for key in &needs.metrics {
                    wanted.push_bind(key.clone());
                }
                query.push(") AND x.run_id IN (SELECT run_id FROM runs WHERE ");
                push_scope(&mut query);
                query.push(")");
                let rows = query
                    .build()
                    .fetch_all(self.pool())
                    .await
                    .map_err(db(operation))?;
                for row in &rows {
                    let run_id: String = row.try_get(0).map_err(db(operation))?;
                    let key: String = row.try_get(1).map_err(db(operation))?;
                    let value: f64 = row.try_get(2).map_err(db(operation))?;
                    let is_nan: bool = row.try_get(3).map_err(db(operation))?;
                    if let Some(candidate) = candidates.get_mut(&run_id) {
                        candidate.metrics.insert(key, decode_metric(value, is_nan));
                    }
                }
            }
            if needs.datasets {
                let ids: Vec<RunId> = candidates.values().map(|c| c.run.run_id.clone()).collect();
                let mut inputs = self.dataset_inputs_of(&ids).await?;
                for (run_id, candidate) in candidates.iter_mut() {
                    candidate.datasets = inputs.remove(run_id).unwrap_or_default();
                }
            }
            Ok(candidates.into_values().collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(result: Result<impl std::fmt::Debug>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn a_conjunction_parses_every_kind_of_identifier_and_value() {
        let clauses = parse_filter(
            RUN_FILTER,
            "metrics.acc > 0.8 and params.lr = '0.01' AND tags.`team name` LIKE 'ml%' \
             and attributes.status IN ('FINISHED', 'FAILED') and run_name != \"x\" \
             and metrics.\"val loss\" <= -1e-3 and tags.owner IS NOT NULL",
        )
        .unwrap();
        let summary: Vec<(Entity, &str, Comparator, &Literal)> = clauses
            .iter()
            .map(|c| (c.entity, c.key.as_str(), c.comparator, &c.value))
            .collect();
        assert_eq!(
            summary,
            vec![
                (Entity::Metric, "acc", Comparator::Gt, &Literal::Number(0.8)),
                (
                    Entity::Param,
                    "lr",
                    Comparator::Eq,
                    &Literal::Text("0.01".into())
                ),
                (
                    Entity::Tag,
                    "team name",
                    Comparator::Like,
                    &Literal::Text("ml%".into())
                ),
                (
                    Entity::Attribute,
                    "status",
                    Comparator::In,
                    &Literal::List(vec!["FINISHED".into(), "FAILED".into()])
                ),
                (
                    Entity::Attribute,
                    "run_name",
                    Comparator::Ne,
                    &Literal::Text("x".into())
                ),
                (
                    Entity::Metric,
                    "val loss",
                    Comparator::Le,
                    &Literal::Number(-1e-3)
                ),
                (
                    Entity::Tag,
                    "owner",
                    Comparator::IsNotNull,
                    &Literal::Nothing
                ),
            ]
        );
        assert!(parse_filter(RUN_FILTER, "   ").unwrap().is_empty());
    }

    #[test]
    fn errors_say_where_and_what_would_be_accepted() {
        let message = error_of(RunFilter::parse("metrics.acc >> 0.8"));
        assert!(message.contains("at character 14"), "{message}");
        assert!(message.contains("a value"), "{message}");

        let message = error_of(RunFilter::parse("metrics.acc > 0.8 or params.a = 'b'"));
        assert!(message.contains("OR is not supported"), "{message}");
        assert!(message.contains("at character 19"), "{message}");

        let message = error_of(RunFilter::parse("params.lr = 0.01"));
        assert!(message.contains("takes a quoted string"), "{message}");

        let message = error_of(RunFilter::parse("metrics.acc = 'high'"));
        assert!(message.contains("compared with a number"), "{message}");

        let message = error_of(RunFilter::parse("colour = 'red'"));
        assert!(message.contains("unknown attribute `colour`"), "{message}");

        let message = error_of(RunFilter::parse("metric.acc > 1 and"));
        assert!(message.contains("a comparison after AND"), "{message}");

        let message = error_of(RunFilter::parse("params.a = 'unclosed"));
        assert!(message.contains("closing '"), "{message}");

        let message = error_of(RunFilter::parse("foo.bar = 'x'"));
        assert!(message.contains("an entity before `.`"), "{message}");

        let message = error_of(RunFilter::parse("params.a IN ('x')"));
        assert!(message.contains("not IN"), "{message}");
    }

    #[test]
    fn like_handles_percent_underscore_and_case() {
        assert!(like("resnet-50", "res%", Case::Sensitive));
        assert!(like("resnet-50", "%net%50", Case::Sensitive));
        assert!(like("abc", "a_c", Case::Sensitive));
        assert!(!like("abc", "a_", Case::Sensitive));
        assert!(!like("ResNet", "resnet", Case::Sensitive));
        assert!(like("ResNet", "resnet", Case::Insensitive));
        assert!(like("", "%", Case::Sensitive));
        assert!(!like("abc", "", Case::Sensitive));
        assert!(like("aXbXc", "%X%X%", Case::Sensitive));
    }

    #[test]
    fn order_terms_parse_with_direction() {
        let order = RunOrder::parse("metrics.`val acc` DESC").unwrap();
        assert_eq!(order.key, RunSortKey::Metric("val acc".into()));
        assert!(!order.ascending);
        let order = RunOrder::parse("attributes.start_time").unwrap();
        assert_eq!(order.key, RunSortKey::Attribute(RunAttribute::StartTime));
        assert!(order.ascending);
        let message = error_of(RunOrder::parse("metrics.acc sideways"));
        assert!(message.contains("ASC, DESC"), "{message}");
    }

    #[test]
    fn missing_values_sort_last_both_ways() {
        let values = [
            Some(SortValue::Number(2.0)),
            None,
            Some(SortValue::Number(1.0)),
        ];
        for ascending in [true, false] {
            let mut sorted = values.to_vec();
            sorted.sort_by(|a, b| compare_sort_values(a, b, ascending));
            assert_eq!(sorted[2], None, "ascending={ascending}");
        }
    }

    #[test]
    fn page_tokens_round_trip_only_for_their_search() {
        let scope = search_scope(&["runs", "ACTIVE_ONLY", "metrics.a > 1"]);
        let token = encode_page_token(40, &scope);
        assert_eq!(decode_page_token(Some(&token), &scope).unwrap(), 40);
        let other = search_scope(&["runs", "ACTIVE_ONLY", "metrics.a > 2"]);
        let message = error_of(decode_page_token(Some(&token), &other));
        assert!(message.contains("different search"), "{message}");
        let message = error_of(decode_page_token(Some("zz"), &scope));
        assert!(message.contains("not a token"), "{message}");
        assert_eq!(decode_page_token(None, &scope).unwrap(), 0);
    }
}
