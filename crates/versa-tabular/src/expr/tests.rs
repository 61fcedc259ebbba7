//! Tests of derived-feature expressions: every operator and function, the missing-value rule, error messages, and batch/row agreement.

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use proptest::prelude::*;
use versa_core::{ColumnSchema, ColumnType};

use super::*;
use crate::table::{Table, Value};

/// Builds a table from typed cells (a test helper shared with the transform tests).
pub(crate) fn table_of(columns: &[(&str, ColumnType, Vec<Value>)]) -> Table {
    let schema = columns
        .iter()
        .map(|(name, column_type, _)| ColumnSchema {
            name: (*name).to_string(),
            column_type: *column_type,
            nullable: true,
        })
        .collect();
    let arrays = columns
        .iter()
        .map(|(_, column_type, cells)| -> ArrayRef {
            match column_type {
                ColumnType::Integer => Arc::new(
                    cells
                        .iter()
                        .map(|c| match c {
                            Value::Integer(i) => Some(*i),
                            _ => None,
                        })
                        .collect::<Int64Array>(),
                ),
                ColumnType::Float => Arc::new(
                    cells
                        .iter()
                        .map(|c| match c {
                            Value::Float(x) => Some(*x),
                            _ => None,
                        })
                        .collect::<Float64Array>(),
                ),
                ColumnType::Boolean => Arc::new(
                    cells
                        .iter()
                        .map(|c| match c {
                            Value::Boolean(b) => Some(*b),
                            _ => None,
                        })
                        .collect::<BooleanArray>(),
                ),
                ColumnType::Categorical => Arc::new(
                    cells
                        .iter()
                        .map(|c| match c {
                            Value::Text(s) => Some(s.as_str()),
                            _ => None,
                        })
                        .collect::<StringArray>(),
                ),
            }
        })
        .collect();
    Table::from_columns(schema, arrays).expect("test table is well formed")
}

fn column(name: &str, column_type: ColumnType) -> ColumnSchema {
    ColumnSchema {
        name: name.to_string(),
        column_type,
        nullable: true,
    }
}

fn inputs() -> Vec<ColumnSchema> {
    vec![
        column("income", ColumnType::Float),
        column("debt", ColumnType::Float),
        column("tenure_months", ColumnType::Integer),
        column("monthly_charges", ColumnType::Float),
        column("support_calls", ColumnType::Integer),
        column("contract", ColumnType::Categorical),
        column("is_senior", ColumnType::Boolean),
        column("monthly charges", ColumnType::Float),
    ]
}

fn feature(name: &str, expression: &str) -> DerivedFeature {
    DerivedFeature {
        name: name.to_string(),
        expression: expression.to_string(),
    }
}

fn compiled(expression: &str) -> CompiledExpr {
    compile(&feature("f", expression), &inputs()).unwrap_or_else(|e| panic!("{expression}: {e}"))
}

fn error(expression: &str) -> String {
    match compile(&feature("f", expression), &inputs()) {
        Ok(_) => panic!("`{expression}` compiled but should not"),
        Err(e) => e.to_string(),
    }
}

/// A row in `inputs()` order.
struct Row {
    income: InputValue<'static>,
    debt: InputValue<'static>,
    tenure: InputValue<'static>,
    charges: InputValue<'static>,
    calls: InputValue<'static>,
    contract: InputValue<'static>,
    senior: InputValue<'static>,
}

impl Default for Row {
    fn default() -> Self {
        Row {
            income: InputValue::Number(1000.0),
            debt: InputValue::Number(250.0),
            tenure: InputValue::Number(11.0),
            charges: InputValue::Number(60.0),
            calls: InputValue::Number(2.0),
            contract: InputValue::Text("month-to-month"),
            senior: InputValue::Number(0.0),
        }
    }
}

impl Row {
    fn values(&self) -> Vec<InputValue<'static>> {
        vec![
            self.income,
            self.debt,
            self.tenure,
            self.charges,
            self.calls,
            self.contract,
            self.senior,
            InputValue::Number(7.0),
        ]
    }
}

fn eval_with(expression: &str, row: &Row) -> Option<f64> {
    compiled(expression).evaluate_row(&row.values())
}

fn eval(expression: &str) -> Option<f64> {
    eval_with(expression, &Row::default())
}

#[test]
fn documented_examples() {
    assert_eq!(eval("debt / (income + 1)"), Some(250.0 / 1001.0));
    assert_eq!(eval("monthly_charges / (tenure_months + 1)"), Some(5.0));
    assert_eq!(
        eval("CASE WHEN support_calls > 3 THEN 1 ELSE 0 END"),
        Some(0.0)
    );
    let many_calls = Row {
        calls: InputValue::Number(4.0),
        ..Row::default()
    };
    assert_eq!(
        eval_with("CASE WHEN support_calls > 3 THEN 1 ELSE 0 END", &many_calls),
        Some(1.0)
    );
    let zero_income = Row {
        income: InputValue::Number(0.0),
        ..Row::default()
    };
    assert_eq!(eval_with("ln(income)", &zero_income), None);
    assert_eq!(eval("ln(income)"), Some(1000f64.ln()));
    assert_eq!(eval("contract = 'month-to-month'"), Some(1.0));
    assert_eq!(eval("contract = 'two-year'"), Some(0.0));
    assert_eq!(eval("contract <> 'two-year'"), Some(1.0));
}

#[test]
fn arithmetic_precedence_and_unary_minus() {
    assert_eq!(eval("1 + 2 * 3"), Some(7.0));
    assert_eq!(eval("(1 + 2) * 3"), Some(9.0));
    assert_eq!(eval("-support_calls + 1"), Some(-1.0));
    assert_eq!(eval("- -2"), Some(2.0));
    assert_eq!(eval("+3 - 10 / 4"), Some(0.5));
    assert_eq!(eval("\"monthly charges\" * 2"), Some(14.0));
    assert_eq!(eval("is_senior + 1"), Some(1.0));
}

#[test]
fn comparisons_and_logic_yield_one_or_zero() {
    assert_eq!(eval("support_calls < 3"), Some(1.0));
    assert_eq!(eval("support_calls <= 2"), Some(1.0));
    assert_eq!(eval("support_calls >= 3"), Some(0.0));
    assert_eq!(eval("support_calls = 2"), Some(1.0));
    assert_eq!(eval("support_calls <> 2"), Some(0.0));
    assert_eq!(eval("support_calls > 1 AND income > 500"), Some(1.0));
    assert_eq!(eval("support_calls > 5 OR income > 5000"), Some(0.0));
    assert_eq!(eval("NOT support_calls > 5"), Some(1.0));
    assert_eq!(eval("support_calls BETWEEN 1 AND 2"), Some(1.0));
    assert_eq!(eval("support_calls NOT BETWEEN 1 AND 2"), Some(0.0));
    assert_eq!(eval("support_calls IN (1, 2, 3)"), Some(1.0));
    assert_eq!(eval("contract IN ('one-year', 'two-year')"), Some(0.0));
    assert_eq!(eval("contract NOT IN ('one-year', 'two-year')"), Some(1.0));
    assert_eq!(eval("(support_calls > 1) + (income > 500)"), Some(2.0));
    assert_eq!(eval("TRUE AND NOT FALSE"), Some(1.0));
}

#[test]
fn case_forms() {
    assert_eq!(
        eval("CASE WHEN income > 5000 THEN 3 WHEN income > 500 THEN 2 ELSE 1 END"),
        Some(2.0)
    );
    assert_eq!(
        eval("CASE WHEN income > 5000 THEN 3 END"),
        None,
        "no ELSE yields missing"
    );
    assert_eq!(
        eval("CASE contract WHEN 'two-year' THEN 24 WHEN 'month-to-month' THEN 1 ELSE 12 END"),
        Some(1.0)
    );
    assert_eq!(
        eval("CASE support_calls WHEN 2 THEN 10 ELSE 0 END"),
        Some(10.0)
    );
    let missing_calls = Row {
        calls: InputValue::Missing,
        ..Row::default()
    };
    // A missing condition reached before a true one makes the result missing…
    assert_eq!(
        eval_with(
            "CASE WHEN support_calls > 3 THEN 1 ELSE 0 END",
            &missing_calls
        ),
        None
    );
    // …but one after a true condition is never looked at.
    assert_eq!(
        eval_with(
            "CASE WHEN income > 0 THEN 1 WHEN support_calls > 3 THEN 2 END",
            &missing_calls
        ),
        Some(1.0)
    );
}

#[test]
fn functions_and_casts() {
    assert_eq!(eval("sqrt(16)"), Some(4.0));
    assert_eq!(eval("abs(-2.5)"), Some(2.5));
    assert_eq!(eval("exp(0)"), Some(1.0));
    assert_eq!(eval("log1p(0)"), Some(0.0));
    assert_eq!(eval("log10(1000)"), Some(3.0));
    assert_eq!(eval("power(2, 10)"), Some(1024.0));
    assert_eq!(eval("LEAST(3, support_calls, 5)"), Some(2.0));
    assert_eq!(eval("greatest(3, support_calls, 5)"), Some(5.0));
    assert_eq!(eval("CAST(2.5 AS INTEGER)"), Some(3.0));
    assert_eq!(eval("CAST(-2.5 AS INTEGER)"), Some(-3.0));
    assert_eq!(eval("CAST(2.4 AS BIGINT)"), Some(2.0));
    assert_eq!(eval("CAST(support_calls AS DOUBLE) / 4"), Some(0.5));
    assert_eq!(eval("CAST(income AS FLOAT)"), Some(1000.0));
    assert_eq!(eval("CAST(income AS BOOLEAN)"), Some(1.0));
    assert_eq!(eval("income::double"), Some(1000.0));
}

#[test]
fn missing_and_undefined_results_are_none() {
    let missing_income = Row {
        income: InputValue::Missing,
        ..Row::default()
    };
    assert_eq!(eval_with("debt / (income + 1)", &missing_income), None);
    assert_eq!(eval_with("income > 3 OR 1 = 1", &missing_income), None);
    assert_eq!(eval_with("least(income, 1)", &missing_income), None);
    assert_eq!(
        eval_with("COALESCE(income, debt, 0)", &missing_income),
        Some(250.0)
    );
    assert_eq!(eval_with("COALESCE(income, NULL)", &missing_income), None);
    let missing_contract = Row {
        contract: InputValue::Missing,
        ..Row::default()
    };
    assert_eq!(
        eval_with("contract = 'month-to-month'", &missing_contract),
        None
    );
    // Non-finite input numbers count as missing.
    let nan_income = Row {
        income: InputValue::Number(f64::NAN),
        ..Row::default()
    };
    assert_eq!(eval_with("income * 0", &nan_income), None);

    assert_eq!(eval("debt / 0"), None);
    assert_eq!(eval("0 / 0"), None);
    assert_eq!(eval("ln(-1)"), None);
    assert_eq!(eval("ln(0)"), None);
    assert_eq!(eval("log1p(-1)"), None);
    assert_eq!(eval("sqrt(-4)"), None);
    assert_eq!(eval("exp(1000)"), None);
    assert_eq!(eval("1e308 * 10"), None);
    assert_eq!(eval("power(-8, 0.5)"), None);
    assert_eq!(eval("NULL + 1"), None);
}

#[test]
fn reports_referenced_columns_in_input_order() {
    let expr = compiled("contract = 'x' OR debt / income > 1");
    assert_eq!(
        expr.referenced_columns(),
        vec!["income", "debt", "contract"]
    );
    assert_eq!(expr.name(), "f");
    assert_eq!(expr.to_string(), "f = contract = 'x' OR debt / income > 1");
}

#[test]
fn syntax_errors_quote_expression_and_parser_message() {
    let message = error("debt / (income + ");
    assert!(
        message.starts_with(
            "derived feature `f`: cannot parse `debt / (income + `: sql parser error: "
        ),
        "{message}"
    );
    let message = error("debt income");
    assert!(message.contains("cannot parse `debt income`"), "{message}");
    assert!(
        message.contains("unexpected `income` at line 1, column 6"),
        "{message}"
    );
    let message = error("");
    assert!(message.contains("cannot parse ``"), "{message}");
}

#[test]
fn unknown_column_suggests_and_lists() {
    assert_eq!(
        error("debt / (incme + 1)"),
        "derived feature `f`: unknown column `incme` (did you mean `income`?); available columns: \
         income, debt, tenure_months, monthly_charges, support_calls, contract, is_senior, monthly charges"
    );
    let message = error("zzzzzzzz + 1");
    assert!(!message.contains("did you mean"), "{message}");
    assert!(message.contains("unknown column `zzzzzzzz`"), "{message}");
    // Names are case-sensitive, but the suggestion catches the case slip.
    assert!(error("Income").contains("(did you mean `income`?)"));
    let message = error("t.income");
    assert!(
        message.contains("qualified names are not supported"),
        "{message}"
    );
}

#[test]
fn type_errors_name_the_sub_expression() {
    assert_eq!(
        error("income + contract * 2"),
        "derived feature `f`: type error in `contract`: this is text (a categorical column or string literal), \
         but a number is needed here; text can only be compared with `=`, `<>` or `IN`"
    );
    assert_eq!(
        error("support_calls = 'many'"),
        "derived feature `f`: type error in `support_calls = 'many'`: compares a number with a string; \
         compare numeric columns with numbers and categorical columns with 'strings'"
    );
    let message = error("contract < 'b'");
    assert!(
        message.contains("type error in `contract < 'b'`: text has no order"),
        "{message}"
    );
    let message = error("ln(income, 2)");
    assert!(
        message.contains("type error in `ln(income, 2)`: `ln` takes exactly 1 argument, got 2"),
        "{message}"
    );
    let message = error("power(income)");
    assert!(
        message.contains("`power` takes exactly 2 arguments, got 1"),
        "{message}"
    );
    let message = error("least()");
    assert!(
        message.contains("`least` takes at least 1 argument, got 0"),
        "{message}"
    );
    let message = error("contract");
    assert!(message.contains("the expression yields text"), "{message}");
    let message = error("CAST(contract AS DOUBLE)");
    assert!(
        message.contains("cannot cast text to a number"),
        "{message}"
    );
    let message = error("CASE WHEN income > 1 THEN 'high' ELSE 'low' END");
    assert!(message.contains("type error in `'high'`"), "{message}");
}

#[test]
fn unknown_functions_list_the_supported_ones() {
    assert_eq!(
        error("log(income)"),
        "derived feature `f`: unknown function `log`; supported: abs, coalesce, exp, greatest, least, ln, \
         log10, log1p, power, sqrt, and CAST(x AS DOUBLE | FLOAT | INTEGER)"
    );
    assert!(error("upper(contract)").contains("unknown function `upper`"));
}

#[test]
fn unsupported_sql_is_named() {
    let message = error("contract LIKE 'm%'");
    assert!(
        message.contains("`contract LIKE 'm%'` is not supported"),
        "{message}"
    );
    let message = error("income IN (SELECT 1)");
    assert!(message.contains("not a subquery"), "{message}");
    let message = error("CAST(income AS TEXT)");
    assert!(message.contains("cannot cast to TEXT"), "{message}");
    let message = error("count(DISTINCT income)");
    assert!(message.contains("DISTINCT, FILTER, OVER"), "{message}");
    let message = error("income % 2");
    assert!(
        message.contains("the operator `%` is not supported"),
        "{message}"
    );
}

#[test]
fn bad_feature_names() {
    let clash = compile(&feature("income", "debt * 2"), &inputs()).unwrap_err();
    assert_eq!(
        clash.to_string(),
        "derived feature `income`: the name clashes with the existing column `income`; \
         choose another name or drop the column"
    );
    let empty = compile(&feature(" ", "debt * 2"), &inputs()).unwrap_err();
    assert!(
        empty.to_string().contains("the feature name is empty"),
        "{empty}"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let expression = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    let message = error(&expression);
    assert!(message.contains("cannot parse"), "{message}");
}

#[test]
fn batch_reads_columns_by_name_and_checks_types() {
    let table = table_of(&[
        (
            "label",
            ColumnType::Integer,
            vec![Value::Integer(1), Value::Integer(0)],
        ),
        (
            "debt",
            ColumnType::Integer,
            vec![Value::Integer(10), Value::Missing],
        ),
        (
            "income",
            ColumnType::Float,
            vec![Value::Float(0.0), Value::Float(4.0)],
        ),
    ]);
    let expr = compiled("debt / (income + 1)");
    assert_eq!(expr.evaluate_batch(&table).unwrap(), vec![Some(10.0), None]);

    let no_contract = compiled("contract = 'x'")
        .evaluate_batch(&table)
        .unwrap_err();
    assert_eq!(
        no_contract.to_string(),
        "derived feature `f`: the table has no column `contract`"
    );

    let wrong = table_of(&[("contract", ColumnType::Integer, vec![Value::Integer(1)])]);
    let message = compiled("contract = 'x'")
        .evaluate_batch(&wrong)
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "derived feature `f`: column `contract` was categorical when compiled, but the table has it as integer"
    );
}

#[test]
fn feature_deserialises_from_json() {
    let parsed: DerivedFeature =
        serde_json::from_str(r#"{"name":"r","expression":"a / b"}"#).unwrap();
    assert_eq!(parsed, feature("r", "a / b"));
    assert!(serde_json::from_str::<DerivedFeature>(r#"{"name":"r","expr":"a"}"#).is_err());
}

const EXPRESSIONS: [&str; 8] = [
    "debt / (income + 1)",
    "monthly_charges / (tenure_months + 1)",
    "CASE WHEN support_calls > 3 THEN 1 ELSE 0 END",
    "ln(income)",
    "COALESCE(sqrt(debt), income * 0.5, -1)",
    "contract = 'month-to-month' AND is_senior = 1",
    "greatest(log1p(debt), exp(income / 100)) - least(tenure_months, 12)",
    "CAST(debt * 1.5 AS INTEGER) / CASE contract WHEN 'two-year' THEN 0 ELSE 3 END",
];

fn cell_strategy(column_type: ColumnType) -> BoxedStrategy<Value> {
    let value = match column_type {
        ColumnType::Integer => (-50i64..200).prop_map(Value::Integer).boxed(),
        ColumnType::Float => prop_oneof![
            Just(Value::Float(0.0)),
            Just(Value::Float(-0.0)),
            (-1e4f64..1e4).prop_map(Value::Float),
            any::<f64>().prop_map(Value::Float),
        ]
        .boxed(),
        ColumnType::Boolean => any::<bool>().prop_map(Value::Boolean).boxed(),
        ColumnType::Categorical => {
            prop::sample::select(vec!["month-to-month", "one-year", "two-year", "x"])
                .prop_map(|s| Value::Text(s.to_string()))
                .boxed()
        }
    };
    prop_oneof![1 => Just(Value::Missing), 5 => value].boxed()
}

fn rows_strategy() -> impl Strategy<Value = Vec<Vec<Value>>> {
    let row: Vec<BoxedStrategy<Value>> = inputs()
        .iter()
        .map(|c| cell_strategy(c.column_type))
        .collect();
    prop::collection::vec(row, 1..20)
}

fn bits(x: Option<f64>) -> Option<u64> {
    x.map(f64::to_bits)
}

proptest! {
    #[test]
    fn batch_and_single_row_agree_bit_for_bit(rows in rows_strategy()) {
        let schema = inputs();
        let columns: Vec<(&str, ColumnType, Vec<Value>)> = schema
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), c.column_type, rows.iter().map(|r| r[i].clone()).collect()))
            .collect();
        let table = table_of(&columns);
        for expression in EXPRESSIONS {
            let expr = compiled(expression);
            let batch = expr.evaluate_batch(&table).unwrap();
            prop_assert_eq!(batch.len(), rows.len());
            for (row, from_batch) in rows.iter().zip(&batch) {
                let values: Vec<InputValue<'_>> = row.iter().map(InputValue::from_table_value).collect();
                let single = expr.evaluate_row(&values);
                prop_assert_eq!(bits(single), bits(*from_batch), "{}", expression);
                prop_assert!(single.is_none_or(f64::is_finite), "{} gave {:?}", expression, single);
            }
        }
    }
}

#[test]
fn long_inputs_are_errors_or_flat_never_stack_overflows() {
    let many_terms = vec!["income"; 2000].join(" + ");
    let message = error(&many_terms);
    assert!(
        message.contains("the expression nests too deeply"),
        "{message}"
    );
    let long_list = (0..5000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    assert_eq!(eval(&format!("support_calls IN ({long_list})")), Some(1.0));
    assert_eq!(
        eval(&format!("support_calls NOT IN ({long_list})")),
        Some(0.0)
    );
    let missing_calls = Row {
        calls: InputValue::Missing,
        ..Row::default()
    };
    assert_eq!(eval_with("support_calls IN (1, 2)", &missing_calls), None);
}
