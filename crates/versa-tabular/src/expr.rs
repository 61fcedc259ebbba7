//! Derived features: `name = "expression"`, where the expression is a small SQL
//! scalar expression over the raw columns of one row.
//!
//! Expressions are parsed with `sqlparser` once, checked against the input
//! schema, and compiled into a tree of nodes that evaluates to `f64`. This
//! module knows columns only by position in the input schema handed to
//! [`compile`]; it knows nothing about imputation, scaling or serving — the
//! `transform` module decides which values are fed in.
//!
//! # What is accepted
//! Numeric literals, `TRUE`/`FALSE` (1/0), `NULL`; column names, bare or
//! double-quoted (matched exactly, case-sensitively); `+ - * /`, unary `-`/`+`,
//! parentheses; `< <= > >= = <>` yielding 1.0/0.0; `AND`, `OR`, `NOT` (any
//! non-zero number is true); `BETWEEN`, `IN (…)`; `CASE [x] WHEN … THEN … [ELSE …]
//! END`; `COALESCE`; `ln`, `log10`, `log1p`, `exp`, `sqrt`, `abs`, `power`, `least`,
//! `greatest`; `CAST(x AS DOUBLE | FLOAT | REAL | INTEGER | BIGINT | BOOLEAN)`
//! (casting to an integer type rounds to the nearest integer, halves away from
//! zero); and `=`/`<>`/`IN` between a categorical column and string literals
//! (`contract = 'month-to-month'`). Boolean columns read as 0/1. The result is
//! always a float.
//!
//! # Evaluation rule (the one rule)
//! An operation whose operand is missing is missing, and an operation whose
//! result would be undefined or non-finite (division by zero, `ln` of a
//! non-positive number, `sqrt` of a negative one, overflow) is missing too:
//! results are never NaN or infinite, they are `None`. The only exception is
//! `COALESCE`, which returns its first non-missing argument. `CASE` evaluates
//! its conditions in order and stops at the first true one, so a missing
//! condition (reached before a true one) makes the result missing; an absent
//! `ELSE` yields missing. Whoever consumes the result (the transform's imputer)
//! fills missing values — "NaN, then imputed".
//!
//! [`CompiledExpr::evaluate_row`] is the only evaluator; the batch form loops
//! rows through it, so both agree bit for bit.

use std::fmt;

use serde::{Deserialize, Serialize};
use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    InTarget, ObjectNamePart, UnaryOperator, Value as SqlValue,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;
use versa_core::{ColumnSchema, ColumnType};

use crate::table::{Table, Value};

#[cfg(test)]
pub(crate) mod tests;

/// Functions callable in a derived feature, as shown in error messages.
const SUPPORTED_FUNCTIONS: &str = "abs, coalesce, exp, greatest, least, ln, log10, log1p, power, sqrt, \
     and CAST(x AS DOUBLE | FLOAT | INTEGER)";

/// How deeply an expression may nest; deeper input is rejected, never overflows the stack.
const RECURSION_LIMIT: usize = 64;

/// A derived feature as declared by the user: `name = "expression"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedFeature {
    /// Name of the new feature column.
    pub name: String,
    /// SQL scalar expression over the input columns.
    pub expression: String,
}

/// A derived feature whose expression failed to compile or evaluate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ExprError {
    /// The expression is not valid SQL.
    #[error("derived feature `{feature}`: cannot parse `{expression}`: {message}")]
    Syntax {
        /// Feature name.
        feature: String,
        /// The expression as written.
        expression: String,
        /// What the SQL parser said.
        message: String,
    },
    /// The feature name is empty or already taken.
    #[error("derived feature `{feature}`: {reason}")]
    BadName {
        /// Feature name.
        feature: String,
        /// Why the name cannot be used.
        reason: String,
    },
    /// The expression names a column the inputs do not have.
    #[error(
        "derived feature `{feature}`: unknown column `{column}`{}; available columns: {available}",
        suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
    )]
    UnknownColumn {
        /// Feature name.
        feature: String,
        /// The unknown name.
        column: String,
        /// The closest existing column name, if one is close.
        suggestion: Option<String>,
        /// Every input column, comma-separated.
        available: String,
    },
    /// A sub-expression has the wrong type or arity.
    #[error("derived feature `{feature}`: type error in `{sub_expression}`: {message}")]
    Type {
        /// Feature name.
        feature: String,
        /// The offending part of the expression.
        sub_expression: String,
        /// What was wrong and what would be accepted.
        message: String,
    },
    /// A function that is not supported.
    #[error(
        "derived feature `{feature}`: unknown function `{function}`; supported: {SUPPORTED_FUNCTIONS}"
    )]
    UnknownFunction {
        /// Feature name.
        feature: String,
        /// The function as written.
        function: String,
    },
    /// SQL that parses but has no meaning for a single row of numbers.
    #[error("derived feature `{feature}`: `{sub_expression}` is not supported: {hint}")]
    Unsupported {
        /// Feature name.
        feature: String,
        /// The offending part of the expression.
        sub_expression: String,
        /// What to write instead.
        hint: String,
    },
    /// The table handed to [`CompiledExpr::evaluate_batch`] lacks an input column.
    #[error("derived feature `{feature}`: the table has no column `{column}`")]
    MissingColumn {
        /// Feature name.
        feature: String,
        /// The column the expression needs.
        column: String,
    },
    /// The table's column has a type the expression was not compiled for.
    #[error(
        "derived feature `{feature}`: column `{column}` was {expected} when compiled, but the table has it as {found}"
    )]
    ColumnType {
        /// Feature name.
        feature: String,
        /// The column.
        column: String,
        /// Type at compile time.
        expected: ColumnType,
        /// Type in the table.
        found: ColumnType,
    },
}

/// One input value of a row, as the evaluator sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputValue<'a> {
    /// No value (also used for NaN and infinities).
    Missing,
    /// An integer, float or boolean (0/1) value.
    Number(f64),
    /// A categorical value.
    Text(&'a str),
}

impl<'a> InputValue<'a> {
    /// The evaluator's view of a table cell: integers and booleans become numbers.
    pub fn from_table_value(value: &'a Value) -> Self {
        match value {
            Value::Missing => InputValue::Missing,
            Value::Integer(i) => InputValue::Number(*i as f64),
            Value::Float(x) => InputValue::Number(*x),
            Value::Boolean(b) => InputValue::Number(if *b { 1.0 } else { 0.0 }),
            Value::Text(s) => InputValue::Text(s),
        }
    }
}

/// A derived feature checked against its input schema, ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledExpr {
    feature: DerivedFeature,
    root: Node,
    /// Name and type of every input slot, as given to [`compile`].
    inputs: Vec<ColumnSchema>,
    /// Input slots the expression reads, ascending.
    referenced: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arithmetic {
    Add,
    Subtract,
    Multiply,
    Divide,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
    NotEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextComparison {
    Equal,
    NotEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logical {
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function1 {
    Ln,
    Log10,
    Log1p,
    Exp,
    Sqrt,
    Abs,
    RoundToInteger,
    ToBoolean,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extreme {
    Least,
    Greatest,
}

#[derive(Debug, Clone, PartialEq)]
enum TextOperand {
    Column(usize),
    Literal(String),
}

/// The compiled, type-checked expression tree. Every node yields `Option<f64>`.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Constant(Option<f64>),
    Column(usize),
    Negate(Box<Node>),
    Arithmetic(Arithmetic, Box<Node>, Box<Node>),
    Compare(Comparison, Box<Node>, Box<Node>),
    CompareText(TextComparison, TextOperand, TextOperand),
    Logical(Logical, Box<Node>, Box<Node>),
    Not(Box<Node>),
    Case {
        branches: Vec<(Node, Node)>,
        otherwise: Option<Box<Node>>,
    },
    Coalesce(Vec<Node>),
    Call(Function1, Box<Node>),
    Power(Box<Node>, Box<Node>),
    Extreme(Extreme, Vec<Node>),
    /// 1 if any element is true; missing if any element is missing (as a chain of ORs).
    AnyOf(Vec<Node>),
}

/// A compiled sub-expression: numbers and text are kept apart so that text can
/// only ever reach an equality test.
enum Typed {
    Number(Node),
    Text(TextOperand),
}

/// Parses and checks `feature` against the columns in `inputs`.
///
/// Column references compile to positions in `inputs`; pass the same slice
/// order to [`CompiledExpr::evaluate_row`].
pub fn compile(
    feature: &DerivedFeature,
    inputs: &[ColumnSchema],
) -> Result<CompiledExpr, ExprError> {
    let name = feature.name.as_str();
    if name.trim().is_empty() {
        return Err(ExprError::BadName {
            feature: name.to_string(),
            reason: "the feature name is empty; give it a name such as `debt_ratio`".to_string(),
        });
    }
    if inputs.iter().any(|c| c.name == name) {
        return Err(ExprError::BadName {
            feature: name.to_string(),
            reason: format!(
                "the name clashes with the existing column `{name}`; choose another name or drop the column"
            ),
        });
    }
    let syntax = |message: String| ExprError::Syntax {
        feature: name.to_string(),
        expression: feature.expression.clone(),
        message,
    };
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(&feature.expression)
        .map_err(|e| syntax(e.to_string()))?;
    let parsed = parser.parse_expr().map_err(|e| syntax(e.to_string()))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(syntax(format!(
            "unexpected `{}` at line {}, column {} after a complete expression",
            next.token, next.span.start.line, next.span.start.column
        )));
    }
    let mut compiler = Compiler {
        feature: name,
        inputs,
        depth: 0,
    };
    let root = match compiler.compile(&parsed)? {
        Typed::Number(node) => node,
        Typed::Text(_) => {
            return Err(compiler.type_error(
                &parsed,
                "the expression yields text, but a derived feature must be numeric; compare it, e.g. `contract = 'monthly'`",
            ));
        }
    };
    let mut referenced = Vec::new();
    collect_columns(&root, &mut referenced);
    referenced.sort_unstable();
    referenced.dedup();
    Ok(CompiledExpr {
        feature: feature.clone(),
        root,
        inputs: inputs.to_vec(),
        referenced,
    })
}

fn collect_columns(node: &Node, out: &mut Vec<usize>) {
    let text = |operand: &TextOperand, out: &mut Vec<usize>| {
        if let TextOperand::Column(slot) = operand {
            out.push(*slot);
        }
    };
    match node {
        Node::Constant(_) => {}
        Node::Column(slot) => out.push(*slot),
        Node::Negate(a) | Node::Not(a) | Node::Call(_, a) => collect_columns(a, out),
        Node::Arithmetic(_, a, b)
        | Node::Compare(_, a, b)
        | Node::Logical(_, a, b)
        | Node::Power(a, b) => {
            collect_columns(a, out);
            collect_columns(b, out);
        }
        Node::CompareText(_, a, b) => {
            text(a, out);
            text(b, out);
        }
        Node::Case {
            branches,
            otherwise,
        } => {
            for (condition, result) in branches {
                collect_columns(condition, out);
                collect_columns(result, out);
            }
            if let Some(otherwise) = otherwise {
                collect_columns(otherwise, out);
            }
        }
        Node::Coalesce(args) | Node::Extreme(_, args) | Node::AnyOf(args) => {
            for arg in args {
                collect_columns(arg, out);
            }
        }
    }
}

struct Compiler<'a> {
    feature: &'a str,
    inputs: &'a [ColumnSchema],
    depth: usize,
}

impl Compiler<'_> {
    fn type_error(&self, at: &Expr, message: &str) -> ExprError {
        ExprError::Type {
            feature: self.feature.to_string(),
            sub_expression: at.to_string(),
            message: message.to_string(),
        }
    }

    fn unsupported(&self, at: &Expr, hint: &str) -> ExprError {
        ExprError::Unsupported {
            feature: self.feature.to_string(),
            sub_expression: at.to_string(),
            hint: hint.to_string(),
        }
    }

    fn number(&mut self, expr: &Expr) -> Result<Node, ExprError> {
        match self.compile(expr)? {
            Typed::Number(node) => Ok(node),
            Typed::Text(_) => Err(self.type_error(
                expr,
                "this is text (a categorical column or string literal), but a number is needed here; \
                 text can only be compared with `=`, `<>` or `IN`",
            )),
        }
    }

    fn column(&self, name: &str) -> Result<Typed, ExprError> {
        match self.inputs.iter().position(|c| c.name == name) {
            Some(slot) => Ok(match self.inputs[slot].column_type {
                ColumnType::Categorical => Typed::Text(TextOperand::Column(slot)),
                ColumnType::Integer | ColumnType::Float | ColumnType::Boolean => {
                    Typed::Number(Node::Column(slot))
                }
            }),
            None => Err(ExprError::UnknownColumn {
                feature: self.feature.to_string(),
                column: name.to_string(),
                suggestion: closest_name(name, self.inputs.iter().map(|c| c.name.as_str())),
                available: self
                    .inputs
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn compile(&mut self, expr: &Expr) -> Result<Typed, ExprError> {
        // sqlparser bounds parenthesised nesting but not long operator chains
        // (`a + a + …` parses into a left-deep tree), and compiling and
        // evaluating both recurse over the tree: cap the depth here.
        self.depth += 1;
        if self.depth > RECURSION_LIMIT * 4 {
            return Err(self.unsupported(expr, "the expression nests too deeply"));
        }
        let result = self.compile_inner(expr);
        self.depth -= 1;
        result
    }

    fn compile_inner(&mut self, expr: &Expr) -> Result<Typed, ExprError> {
        match expr {
            Expr::Identifier(ident) => self.column(&ident.value),
            Expr::CompoundIdentifier(parts) => {
                let joined = parts.iter().map(|p| p.value.as_str()).collect::<Vec<_>>().join(".");
                Err(self.unsupported(
                    expr,
                    &format!("qualified names are not supported; if the column is named `{joined}`, write \"{joined}\""),
                ))
            }
            Expr::Nested(inner) => self.compile(inner),
            Expr::Value(value) => self.literal(expr, &value.value),
            Expr::UnaryOp { op, expr: operand } => match op {
                UnaryOperator::Minus => Ok(Typed::Number(Node::Negate(Box::new(self.number(operand)?)))),
                UnaryOperator::Plus => Ok(Typed::Number(self.number(operand)?)),
                UnaryOperator::Not => Ok(Typed::Number(Node::Not(Box::new(self.number(operand)?)))),
                _ => Err(self.unsupported(expr, "only unary `-`, `+` and `NOT` are supported")),
            },
            Expr::BinaryOp { left, op, right } => self.binary(expr, left, op, right),
            Expr::Between {
                expr: value,
                negated,
                low,
                high,
            } => {
                let value = self.number(value)?;
                let low = self.number(low)?;
                let high = self.number(high)?;
                let node = Node::Logical(
                    Logical::And,
                    Box::new(Node::Compare(
                        Comparison::GreaterOrEqual,
                        Box::new(value.clone()),
                        Box::new(low),
                    )),
                    Box::new(Node::Compare(Comparison::LessOrEqual, Box::new(value), Box::new(high))),
                );
                Ok(Typed::Number(negate_if(node, *negated)))
            }
            Expr::In {
                expr: value,
                target: InTarget::List(list),
                negated,
                ..
            } => {
                if list.is_empty() {
                    return Err(self.type_error(expr, "`IN` needs at least one value"));
                }
                let tests = list
                    .iter()
                    .map(|candidate| self.equality(expr, value, candidate, TextComparison::Equal))
                    .collect::<Result<Vec<_>, _>>()?;
                // A flat list rather than a chain of ORs: a long IN list must
                // not become a deep tree.
                Ok(Typed::Number(negate_if(Node::AnyOf(tests), *negated)))
            }
            Expr::In { .. } => Err(self.unsupported(expr, "`IN` takes a list of values here, not a subquery")),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let mut branches = Vec::with_capacity(conditions.len());
                for when in conditions {
                    let condition = match operand {
                        Some(operand) => self.equality(expr, operand, &when.condition, TextComparison::Equal)?,
                        None => self.number(&when.condition)?,
                    };
                    branches.push((condition, self.number(&when.result)?));
                }
                let otherwise = match else_result {
                    Some(e) => Some(Box::new(self.number(e)?)),
                    None => None,
                };
                Ok(Typed::Number(Node::Case { branches, otherwise }))
            }
            Expr::Cast {
                kind,
                expr: operand,
                data_type,
                format,
            } => {
                if format.is_some() || matches!(kind, CastKind::SafeCast) {
                    return Err(self.unsupported(expr, "write a plain `CAST(x AS DOUBLE)`"));
                }
                let function = match data_type {
                    DataType::Double(_)
                    | DataType::DoublePrecision
                    | DataType::Float(_)
                    | DataType::Float4
                    | DataType::Float8
                    | DataType::Float32
                    | DataType::Float64
                    | DataType::Real
                    | DataType::Numeric(_)
                    | DataType::Decimal(_) => None,
                    DataType::TinyInt(_)
                    | DataType::SmallInt(_)
                    | DataType::Int(_)
                    | DataType::Integer(_)
                    | DataType::BigInt(_)
                    | DataType::Int2(_)
                    | DataType::Int4(_)
                    | DataType::Int8(_)
                    | DataType::Int32
                    | DataType::Int64 => Some(Function1::RoundToInteger),
                    DataType::Bool | DataType::Boolean => Some(Function1::ToBoolean),
                    other => {
                        return Err(self.unsupported(
                            expr,
                            &format!("cannot cast to {other}; derived features are numeric: cast to DOUBLE, FLOAT, INTEGER or BOOLEAN"),
                        ));
                    }
                };
                let inner = match self.compile(operand)? {
                    Typed::Number(node) => node,
                    Typed::Text(_) => {
                        return Err(self.type_error(
                            expr,
                            "cannot cast text to a number; compare the categorical column with a string instead, e.g. `contract = 'monthly'`",
                        ));
                    }
                };
                Ok(Typed::Number(match function {
                    None => inner,
                    Some(function) => Node::Call(function, Box::new(inner)),
                }))
            }
            Expr::Function(function) => self.function(expr, function),
            _ => Err(self.unsupported(
                expr,
                "derived features accept numbers, columns, arithmetic, comparisons, AND/OR/NOT, CASE, \
                 BETWEEN, IN and the functions listed in the docs",
            )),
        }
    }

    fn literal(&self, expr: &Expr, value: &SqlValue) -> Result<Typed, ExprError> {
        match value {
            SqlValue::Number(text, _) => match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Typed::Number(Node::Constant(Some(x)))),
                _ => Err(self.type_error(expr, "the number is out of range for a 64-bit float")),
            },
            SqlValue::Boolean(b) => Ok(Typed::Number(Node::Constant(Some(if *b { 1.0 } else { 0.0 })))),
            SqlValue::Null => Ok(Typed::Number(Node::Constant(None))),
            SqlValue::SingleQuotedString(s) => Ok(Typed::Text(TextOperand::Literal(s.clone()))),
            _ => Err(self.unsupported(
                expr,
                "only numbers, TRUE, FALSE, NULL and 'single-quoted' strings are accepted as literals",
            )),
        }
    }

    /// `left = right` for numbers or text; `comparison` says `=` or `<>`.
    fn equality(
        &mut self,
        at: &Expr,
        left: &Expr,
        right: &Expr,
        comparison: TextComparison,
    ) -> Result<Node, ExprError> {
        let left = self.compile(left)?;
        let right = self.compile(right)?;
        match (left, right) {
            (Typed::Number(a), Typed::Number(b)) => {
                let op = match comparison {
                    TextComparison::Equal => Comparison::Equal,
                    TextComparison::NotEqual => Comparison::NotEqual,
                };
                Ok(Node::Compare(op, Box::new(a), Box::new(b)))
            }
            (Typed::Text(a), Typed::Text(b)) => Ok(Node::CompareText(comparison, a, b)),
            _ => Err(self.type_error(
                at,
                "compares a number with a string; compare numeric columns with numbers and categorical columns with 'strings'",
            )),
        }
    }

    fn binary(
        &mut self,
        expr: &Expr,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
    ) -> Result<Typed, ExprError> {
        let arithmetic = match op {
            BinaryOperator::Plus => Some(Arithmetic::Add),
            BinaryOperator::Minus => Some(Arithmetic::Subtract),
            BinaryOperator::Multiply => Some(Arithmetic::Multiply),
            BinaryOperator::Divide => Some(Arithmetic::Divide),
            _ => None,
        };
        if let Some(arithmetic) = arithmetic {
            let a = self.number(left)?;
            let b = self.number(right)?;
            return Ok(Typed::Number(Node::Arithmetic(
                arithmetic,
                Box::new(a),
                Box::new(b),
            )));
        }
        let logical = match op {
            BinaryOperator::And => Some(Logical::And),
            BinaryOperator::Or => Some(Logical::Or),
            _ => None,
        };
        if let Some(logical) = logical {
            let a = self.number(left)?;
            let b = self.number(right)?;
            return Ok(Typed::Number(Node::Logical(
                logical,
                Box::new(a),
                Box::new(b),
            )));
        }
        let ordering = match op {
            BinaryOperator::Lt => Comparison::Less,
            BinaryOperator::LtEq => Comparison::LessOrEqual,
            BinaryOperator::Gt => Comparison::Greater,
            BinaryOperator::GtEq => Comparison::GreaterOrEqual,
            BinaryOperator::Eq => {
                return Ok(Typed::Number(self.equality(
                    expr,
                    left,
                    right,
                    TextComparison::Equal,
                )?));
            }
            BinaryOperator::NotEq => {
                return Ok(Typed::Number(self.equality(
                    expr,
                    left,
                    right,
                    TextComparison::NotEqual,
                )?));
            }
            _ => {
                return Err(self.unsupported(
                    expr,
                    &format!(
                        "the operator `{op}` is not supported; use + - * /, comparisons, AND, OR"
                    ),
                ));
            }
        };
        let a = self.compile(left)?;
        let b = self.compile(right)?;
        match (a, b) {
            (Typed::Number(a), Typed::Number(b)) => Ok(Typed::Number(Node::Compare(ordering, Box::new(a), Box::new(b)))),
            (Typed::Text(_), Typed::Text(_)) => Err(self.type_error(
                expr,
                "text has no order; categorical values can only be compared with `=`, `<>` or `IN`",
            )),
            _ => Err(self.type_error(
                expr,
                "compares a number with a string; compare numeric columns with numbers and categorical columns with 'strings'",
            )),
        }
    }

    fn function(
        &mut self,
        expr: &Expr,
        function: &sqlparser::ast::Function,
    ) -> Result<Typed, ExprError> {
        let name = match function.name.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] => ident.value.to_ascii_lowercase(),
            _ => {
                return Err(ExprError::UnknownFunction {
                    feature: self.feature.to_string(),
                    function: function.name.to_string(),
                });
            }
        };
        let arity = |expected: &str| format!("`{name}` takes {expected}");
        let list = match &function.args {
            FunctionArguments::List(list) => list,
            FunctionArguments::None => {
                return Err(self.type_error(expr, &arity("arguments in parentheses")));
            }
            FunctionArguments::Subquery(_) => {
                return Err(self.unsupported(expr, "subqueries are not supported"));
            }
        };
        let plain_call = list.duplicate_treatment.is_none()
            && list.clauses.is_empty()
            && function.filter.is_none()
            && function.over.is_none()
            && function.within_group.is_empty()
            && function.null_treatment.is_none()
            && matches!(function.parameters, FunctionArguments::None);
        if !plain_call {
            return Err(self.unsupported(
                expr,
                "derived features work on one row: DISTINCT, FILTER, OVER and ORDER BY are not supported",
            ));
        }
        let mut args = Vec::with_capacity(list.args.len());
        for arg in &list.args {
            match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(e),
                _ => return Err(self.unsupported(expr, "pass plain positional arguments")),
            }
        }
        let unary = match name.as_str() {
            "ln" => Some(Function1::Ln),
            "log10" => Some(Function1::Log10),
            "log1p" => Some(Function1::Log1p),
            "exp" => Some(Function1::Exp),
            "sqrt" => Some(Function1::Sqrt),
            "abs" => Some(Function1::Abs),
            _ => None,
        };
        if let Some(unary) = unary {
            let [arg] = args.as_slice() else {
                return Err(self.type_error(
                    expr,
                    &arity(&format!("exactly 1 argument, got {}", args.len())),
                ));
            };
            return Ok(Typed::Number(Node::Call(
                unary,
                Box::new(self.number(arg)?),
            )));
        }
        match name.as_str() {
            "power" | "pow" => {
                let [base, exponent] = args.as_slice() else {
                    return Err(self.type_error(
                        expr,
                        &arity(&format!("exactly 2 arguments, got {}", args.len())),
                    ));
                };
                let base = self.number(base)?;
                let exponent = self.number(exponent)?;
                Ok(Typed::Number(Node::Power(
                    Box::new(base),
                    Box::new(exponent),
                )))
            }
            "least" | "greatest" | "coalesce" => {
                if args.is_empty() {
                    return Err(self.type_error(expr, &arity("at least 1 argument, got 0")));
                }
                let nodes = args
                    .iter()
                    .map(|a| self.number(a))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Typed::Number(match name.as_str() {
                    "least" => Node::Extreme(Extreme::Least, nodes),
                    "greatest" => Node::Extreme(Extreme::Greatest, nodes),
                    _ => Node::Coalesce(nodes),
                }))
            }
            _ => Err(ExprError::UnknownFunction {
                feature: self.feature.to_string(),
                function: function.name.to_string(),
            }),
        }
    }
}

fn negate_if(node: Node, negated: bool) -> Node {
    if negated {
        Node::Not(Box::new(node))
    } else {
        node
    }
}

/// The candidate closest to `name` by case-insensitive edit distance, if it is
/// close enough to be a plausible typo.
pub(crate) fn closest_name<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let wanted: Vec<char> = name.to_lowercase().chars().collect();
    let threshold = (wanted.len() / 3).max(2);
    candidates
        .map(|c| {
            (
                edit_distance(&wanted, &c.to_lowercase().chars().collect::<Vec<_>>()),
                c,
            )
        })
        .filter(|(d, _)| *d <= threshold)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Keeps finite numbers; everything else is missing (the one evaluation rule).
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn truth(x: bool) -> f64 {
    if x { 1.0 } else { 0.0 }
}

impl CompiledExpr {
    /// The feature's name.
    pub fn name(&self) -> &str {
        &self.feature.name
    }

    /// The declaration this was compiled from.
    pub fn feature(&self) -> &DerivedFeature {
        &self.feature
    }

    /// Names of the input columns the expression reads, in input order.
    pub fn referenced_columns(&self) -> Vec<&str> {
        self.referenced
            .iter()
            .map(|&slot| self.inputs[slot].name.as_str())
            .collect()
    }

    /// Evaluates one row. `row[i]` is the value of the `i`-th column of the
    /// `inputs` given to [`compile`]; a short slice reads as missing values.
    pub fn evaluate_row(&self, row: &[InputValue<'_>]) -> Option<f64> {
        eval(&self.root, row)
    }

    /// Evaluates every row of `table`, matching input columns by name.
    pub fn evaluate_batch(&self, table: &Table) -> Result<Vec<Option<f64>>, ExprError> {
        let mut sources = Vec::with_capacity(self.referenced.len());
        for &slot in &self.referenced {
            let input = &self.inputs[slot];
            let Some(column) = table.column_index(&input.name) else {
                return Err(ExprError::MissingColumn {
                    feature: self.feature.name.clone(),
                    column: input.name.clone(),
                });
            };
            let found = table.schema()[column].column_type;
            let compatible = (found == ColumnType::Categorical)
                == (input.column_type == ColumnType::Categorical);
            if !compatible {
                return Err(ExprError::ColumnType {
                    feature: self.feature.name.clone(),
                    column: input.name.clone(),
                    expected: input.column_type,
                    found,
                });
            }
            sources.push((slot, column));
        }
        let mut cells: Vec<Value> = vec![Value::Missing; self.inputs.len()];
        let mut results = Vec::with_capacity(table.n_rows());
        for row in 0..table.n_rows() {
            for &(slot, column) in &sources {
                cells[slot] = table.value(column, row);
            }
            let values: Vec<InputValue<'_>> =
                cells.iter().map(InputValue::from_table_value).collect();
            results.push(self.evaluate_row(&values));
        }
        Ok(results)
    }
}

impl fmt::Display for CompiledExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.feature.name, self.feature.expression)
    }
}

fn eval(node: &Node, row: &[InputValue<'_>]) -> Option<f64> {
    match node {
        Node::Constant(value) => *value,
        Node::Column(slot) => match row.get(*slot) {
            Some(InputValue::Number(x)) => finite(*x),
            _ => None,
        },
        Node::Negate(a) => Some(-eval(a, row)?),
        Node::Arithmetic(op, a, b) => {
            let a = eval(a, row)?;
            let b = eval(b, row)?;
            match op {
                Arithmetic::Add => finite(a + b),
                Arithmetic::Subtract => finite(a - b),
                Arithmetic::Multiply => finite(a * b),
                Arithmetic::Divide if b == 0.0 => None,
                Arithmetic::Divide => finite(a / b),
            }
        }
        Node::Compare(op, a, b) => {
            let a = eval(a, row)?;
            let b = eval(b, row)?;
            Some(truth(match op {
                Comparison::Less => a < b,
                Comparison::LessOrEqual => a <= b,
                Comparison::Greater => a > b,
                Comparison::GreaterOrEqual => a >= b,
                Comparison::Equal => a == b,
                Comparison::NotEqual => a != b,
            }))
        }
        Node::CompareText(op, a, b) => {
            let a = text(a, row)?;
            let b = text(b, row)?;
            Some(truth(match op {
                TextComparison::Equal => a == b,
                TextComparison::NotEqual => a != b,
            }))
        }
        Node::Logical(op, a, b) => {
            let a = eval(a, row)? != 0.0;
            let b = eval(b, row)? != 0.0;
            Some(truth(match op {
                Logical::And => a && b,
                Logical::Or => a || b,
            }))
        }
        Node::Not(a) => Some(truth(eval(a, row)? == 0.0)),
        Node::Case {
            branches,
            otherwise,
        } => {
            for (condition, result) in branches {
                if eval(condition, row)? != 0.0 {
                    return eval(result, row);
                }
            }
            eval(otherwise.as_deref()?, row)
        }
        Node::Coalesce(args) => args.iter().find_map(|a| eval(a, row)),
        Node::Call(function, a) => {
            let x = eval(a, row)?;
            match function {
                Function1::Ln => finite(x.ln()),
                Function1::Log10 => finite(x.log10()),
                Function1::Log1p => finite(x.ln_1p()),
                Function1::Exp => finite(x.exp()),
                Function1::Sqrt => finite(x.sqrt()),
                Function1::Abs => Some(x.abs()),
                Function1::RoundToInteger => Some(x.round()),
                Function1::ToBoolean => Some(truth(x != 0.0)),
            }
        }
        Node::Power(base, exponent) => {
            let base = eval(base, row)?;
            let exponent = eval(exponent, row)?;
            finite(base.powf(exponent))
        }
        Node::AnyOf(tests) => {
            let mut any = false;
            for test in tests {
                any |= eval(test, row)? != 0.0;
            }
            Some(truth(any))
        }
        Node::Extreme(which, args) => {
            let mut best: Option<f64> = None;
            for arg in args {
                let x = eval(arg, row)?;
                best = Some(match (best, which) {
                    (None, _) => x,
                    (Some(b), Extreme::Least) => b.min(x),
                    (Some(b), Extreme::Greatest) => b.max(x),
                });
            }
            best
        }
    }
}

fn text<'a>(operand: &'a TextOperand, row: &[InputValue<'a>]) -> Option<&'a str> {
    match operand {
        TextOperand::Literal(s) => Some(s),
        TextOperand::Column(slot) => match row.get(*slot) {
            Some(InputValue::Text(s)) => Some(s),
            _ => None,
        },
    }
}
