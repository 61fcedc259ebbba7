//! The embedded sample dataset: synthetic customers of a subscription
//! service and whether they churned, written by versa's quickstart.
//!
//! Everything is drawn from `Rng::derive(seed, "sample-churn")`, so a seed
//! gives identical bytes on every machine. Columns: `age`, `income` (annual,
//! thousands, lognormal around a median of 55), `debt`, `tenure_months`,
//! `monthly_charges`, `support_calls`, `last_login_days`, `contract`, `plan`,
//! `region` and the label `churned` (`yes` / `no`). About 3% of feature cells
//! are missing (empty fields), uniformly at random; the label never is.
//!
//! The label is drawn from a logistic model whose logit depends on the
//! features with realistic signs, on the two ratios the quickstart engineers
//! (`debt_ratio = debt / (income + 1)` and
//! `charges_per_tenure = monthly_charges / (tenure_months + 1)`), and on two
//! non-linearities a linear model cannot express directly (month-to-month
//! customers in their first year churn much more; support calls saturate
//! after four). The scale is calibrated so that predicting with the true
//! probability reaches about 82–83% accuracy, with a churn rate near 38–40%
//! (seed 42, 1000 rows: 83.2% and 37.7%).
//! This module knows nothing about tables or CSV parsing; it only writes text.

use std::fmt::Write as _;

use versa_core::Rng;

/// The header of [`churn_csv`], in column order.
pub const CHURN_COLUMNS: [&str; 11] = [
    "age",
    "income",
    "debt",
    "tenure_months",
    "monthly_charges",
    "support_calls",
    "last_login_days",
    "contract",
    "plan",
    "region",
    "churned",
];

/// The label column of the sample dataset.
pub const CHURN_LABEL: &str = "churned";

/// Share of feature cells left empty.
pub const MISSING_SHARE: f64 = 0.03;

/// Multiplies the raw logit: sets how separable the classes are.
const LOGIT_SCALE: f64 = 1.5;
/// Added to the raw logit: sets the churn rate.
const LOGIT_INTERCEPT: f64 = -1.0;

/// Contract length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// No commitment.
    MonthToMonth,
    /// Twelve months.
    OneYear,
    /// Twenty-four months.
    TwoYear,
}

impl Contract {
    /// The text written to the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Contract::MonthToMonth => "month-to-month",
            Contract::OneYear => "one-year",
            Contract::TwoYear => "two-year",
        }
    }
}

/// Service plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Cheapest.
    Basic,
    /// Middle.
    Standard,
    /// Most expensive.
    Premium,
}

impl Plan {
    /// The text written to the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Plan::Basic => "basic",
            Plan::Standard => "standard",
            Plan::Premium => "premium",
        }
    }
}

/// Sales region; it does not affect churn (a deliberately useless feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// North.
    North,
    /// South.
    South,
    /// East.
    East,
    /// West.
    West,
}

impl Region {
    /// The text written to the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Region::North => "north",
            Region::South => "south",
            Region::East => "east",
            Region::West => "west",
        }
    }
}

/// One customer. Feature fields are `None` where the CSV cell is empty;
/// `churn_probability` was computed from the complete values before any
/// were blanked.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnRow {
    /// Years, 18–80.
    pub age: Option<i64>,
    /// Annual income in thousands, one decimal.
    pub income: Option<f64>,
    /// Outstanding debt in thousands, 0 to 1.2 × income, one decimal.
    pub debt: Option<f64>,
    /// Months as a customer, 0–72.
    pub tenure_months: Option<i64>,
    /// Monthly bill, 20–120, two decimals.
    pub monthly_charges: Option<f64>,
    /// Support calls in the last quarter, 0–10.
    pub support_calls: Option<i64>,
    /// Days since the last login, 0–60.
    pub last_login_days: Option<i64>,
    /// Contract length.
    pub contract: Option<Contract>,
    /// Service plan.
    pub plan: Option<Plan>,
    /// Sales region.
    pub region: Option<Region>,
    /// The label.
    pub churned: bool,
    /// The true probability the label was drawn with.
    pub churn_probability: f64,
}

/// Complete feature values of one customer, before blanking.
struct Customer {
    age: i64,
    income: f64,
    debt: f64,
    tenure_months: i64,
    monthly_charges: f64,
    support_calls: i64,
    last_login_days: i64,
    contract: Contract,
    plan: Plan,
    region: Region,
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

/// Knuth's multiplication method; fine for the small means used here.
fn poisson(rng: &mut Rng, mean: f64) -> i64 {
    let limit = (-mean).exp();
    let mut product = rng.uniform();
    let mut count = 0;
    while product > limit {
        count += 1;
        product *= rng.uniform();
    }
    count
}

fn draw_customer(rng: &mut Rng) -> Customer {
    let age = (45.0 + 14.0 * rng.normal()).round().clamp(18.0, 80.0) as i64;
    // Income rises a little with age; lognormal around a median of 55.
    let log_income = 55f64.ln() + 0.006 * (age - 45) as f64 + 0.45 * rng.normal();
    let income = round_to(log_income.exp().clamp(8.0, 400.0), 1);
    let debt = round_to(1.2 * income * rng.uniform().powf(1.6), 1);
    let tenure_months = rng.below(73) as i64;
    let contract = match rng.weighted_index(&[0.5, 0.3, 0.2]) {
        0 => Contract::MonthToMonth,
        1 => Contract::OneYear,
        _ => Contract::TwoYear,
    };
    let plan = match rng.weighted_index(&[0.4, 0.4, 0.2]) {
        0 => Plan::Basic,
        1 => Plan::Standard,
        _ => Plan::Premium,
    };
    let (low, high) = match plan {
        Plan::Basic => (20.0, 60.0),
        Plan::Standard => (45.0, 90.0),
        Plan::Premium => (75.0, 120.0),
    };
    let monthly_charges = round_to(rng.uniform_range(low, high), 2);
    let support_calls = poisson(rng, 1.6).min(10);
    let last_login_days = ((-rng.uniform().max(1e-12).ln()) * 9.0).floor().min(60.0) as i64;
    let region = match rng.below(4) {
        0 => Region::North,
        1 => Region::South,
        2 => Region::East,
        _ => Region::West,
    };
    Customer {
        age,
        income,
        debt,
        tenure_months,
        monthly_charges,
        support_calls,
        last_login_days,
        contract,
        plan,
        region,
    }
}

/// The unscaled logit of churn for one customer.
fn raw_logit(customer: &Customer) -> f64 {
    let tenure = customer.tenure_months as f64;
    let debt_ratio = customer.debt / (customer.income + 1.0);
    let charges_per_tenure = customer.monthly_charges / (tenure + 1.0);
    let contract = match customer.contract {
        Contract::MonthToMonth => 0.9,
        Contract::OneYear => 0.0,
        Contract::TwoYear => -0.9,
    };
    // The non-linearity: new month-to-month customers leave far more often.
    let new_and_uncommitted =
        if customer.contract == Contract::MonthToMonth && customer.tenure_months < 12 {
            1.2
        } else {
            0.0
        };
    let plan = match customer.plan {
        Plan::Basic => 0.25,
        Plan::Standard => 0.0,
        Plan::Premium => -0.2,
    };
    contract + new_and_uncommitted + plan - 0.025 * (tenure - 30.0)
        + 0.6 * ((1.0 + charges_per_tenure).ln() - 1.0)
        + 0.012 * (customer.monthly_charges - 70.0)
        + 1.8 * (debt_ratio - 0.35)
        - 0.35 * (customer.income / 55.0).ln()
        - 0.02 * (customer.age - 45) as f64
        // Saturating: the fifth complaint call says little the fourth did not.
        + 0.55 * customer.support_calls.min(4) as f64
        - 0.8
        + 0.035 * (customer.last_login_days - 8) as f64
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The sample customers with their true churn probabilities.
pub fn churn_rows(seed: u64, n_rows: usize) -> Vec<ChurnRow> {
    let mut rng = Rng::derive(seed, "sample-churn");
    (0..n_rows)
        .map(|_| {
            let customer = draw_customer(&mut rng);
            let churn_probability = sigmoid(LOGIT_SCALE * (raw_logit(&customer) + LOGIT_INTERCEPT));
            let churned = rng.uniform() < churn_probability;
            let mut keep = || rng.uniform() >= MISSING_SHARE;
            ChurnRow {
                age: keep().then_some(customer.age),
                income: keep().then_some(customer.income),
                debt: keep().then_some(customer.debt),
                tenure_months: keep().then_some(customer.tenure_months),
                monthly_charges: keep().then_some(customer.monthly_charges),
                support_calls: keep().then_some(customer.support_calls),
                last_login_days: keep().then_some(customer.last_login_days),
                contract: keep().then_some(customer.contract),
                plan: keep().then_some(customer.plan),
                region: keep().then_some(customer.region),
                churned,
                churn_probability,
            }
        })
        .collect()
}

/// The sample dataset as CSV bytes: a header line, then one line per
/// customer, `\n` line ends, empty fields for missing values.
pub fn churn_csv(seed: u64, n_rows: usize) -> Vec<u8> {
    let mut out = CHURN_COLUMNS.join(",");
    out.push('\n');
    for row in churn_rows(seed, n_rows) {
        let integer = |value: Option<i64>| value.map(|v| v.to_string()).unwrap_or_default();
        let decimal = |value: Option<f64>, places: usize| {
            value.map(|v| format!("{v:.places$}")).unwrap_or_default()
        };
        let cells = [
            integer(row.age),
            decimal(row.income, 1),
            decimal(row.debt, 1),
            integer(row.tenure_months),
            decimal(row.monthly_charges, 2),
            integer(row.support_calls),
            integer(row.last_login_days),
            row.contract
                .map(Contract::name)
                .unwrap_or_default()
                .to_string(),
            row.plan.map(Plan::name).unwrap_or_default().to_string(),
            row.region.map(Region::name).unwrap_or_default().to_string(),
            (if row.churned { "yes" } else { "no" }).to_string(),
        ];
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv::{CsvOptions, read_csv};
    use crate::split::encode_labels;
    use crate::table::Value;
    use versa_core::ColumnType;

    #[test]
    fn bayes_accuracy_and_churn_rate_are_calibrated() {
        let rows = churn_rows(42, 1000);
        let n = rows.len() as f64;
        let bayes_correct = rows
            .iter()
            .filter(|row| (row.churn_probability > 0.5) == row.churned)
            .count() as f64;
        let expected_bayes = rows
            .iter()
            .map(|row| row.churn_probability.max(1.0 - row.churn_probability))
            .sum::<f64>()
            / n;
        let churn_rate = rows.iter().filter(|row| row.churned).count() as f64 / n;
        assert!(
            (0.82..=0.84).contains(&(bayes_correct / n)),
            "bayes accuracy {}",
            bayes_correct / n
        );
        assert!(
            (0.82..=0.84).contains(&expected_bayes),
            "expected bayes accuracy {expected_bayes}"
        );
        assert!(
            (0.30..=0.45).contains(&churn_rate),
            "churn rate {churn_rate}"
        );
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        assert_eq!(churn_csv(42, 300), churn_csv(42, 300));
        assert_ne!(churn_csv(42, 300), churn_csv(43, 300));
        // A longer file starts with the shorter one: rows do not depend on n_rows.
        let short = churn_csv(7, 50);
        assert!(churn_csv(7, 80).starts_with(&short));
    }

    #[test]
    fn values_stay_in_their_ranges() {
        let rows = churn_rows(3, 2000);
        for row in &rows {
            if let Some(age) = row.age {
                assert!((18..=80).contains(&age), "age {age}");
            }
            if let Some(income) = row.income {
                assert!(
                    income > 0.0 && income == round_to(income, 1),
                    "income {income}"
                );
                if let Some(debt) = row.debt {
                    assert!(
                        (0.0..=1.2 * income + 0.05).contains(&debt),
                        "debt {debt} income {income}"
                    );
                }
            }
            if let Some(tenure) = row.tenure_months {
                assert!((0..=72).contains(&tenure), "tenure {tenure}");
            }
            if let Some(charges) = row.monthly_charges {
                assert!((20.0..=120.0).contains(&charges), "charges {charges}");
            }
            if let Some(calls) = row.support_calls {
                assert!((0..=10).contains(&calls), "calls {calls}");
            }
            if let Some(days) = row.last_login_days {
                assert!((0..=60).contains(&days), "days {days}");
            }
            assert!((0.0..=1.0).contains(&row.churn_probability));
        }
        let mut incomes: Vec<f64> = rows.iter().filter_map(|row| row.income).collect();
        incomes.sort_by(f64::total_cmp);
        let median = incomes[incomes.len() / 2];
        assert!((50.0..=60.0).contains(&median), "median income {median}");
        for (name, seen) in [
            (
                "month-to-month",
                rows.iter()
                    .any(|r| r.contract == Some(Contract::MonthToMonth)),
            ),
            (
                "two-year",
                rows.iter().any(|r| r.contract == Some(Contract::TwoYear)),
            ),
            (
                "premium",
                rows.iter().any(|r| r.plan == Some(Plan::Premium)),
            ),
            ("west", rows.iter().any(|r| r.region == Some(Region::West))),
        ] {
            assert!(seen, "{name} never drawn");
        }
    }

    #[test]
    fn about_three_percent_of_feature_cells_are_missing() {
        let table = read_csv(&churn_csv(11, 2000), &CsvOptions::default()).unwrap();
        let label = table.column_index(CHURN_LABEL).unwrap();
        let mut missing = 0;
        for column in 0..table.n_columns() {
            for row in 0..table.n_rows() {
                if table.value(column, row).is_missing() {
                    assert_ne!(column, label, "label missing at row {row}");
                    missing += 1;
                }
            }
        }
        let share = f64::from(missing) / (2000.0 * 10.0);
        assert!((0.025..=0.035).contains(&share), "missing share {share}");
    }

    #[test]
    fn csv_reads_back_with_the_intended_types() {
        let table = read_csv(&churn_csv(42, 500), &CsvOptions::default()).unwrap();
        assert_eq!(table.n_rows(), 500);
        assert_eq!(table.column_names(), CHURN_COLUMNS.to_vec());
        let types: Vec<ColumnType> = table.schema().iter().map(|c| c.column_type).collect();
        use ColumnType::{Categorical as C, Float as F, Integer as I};
        assert_eq!(types, vec![I, F, F, I, F, I, I, C, C, C, C]);
        let (classes, labels) = encode_labels(&table, CHURN_LABEL).unwrap();
        assert_eq!(classes, vec!["no", "yes"]);
        let rows = churn_rows(42, 500);
        for (row, expected) in rows.iter().enumerate() {
            assert_eq!(labels[row] == 1, expected.churned);
            let age = table.value(0, row);
            match expected.age {
                Some(age_value) => assert_eq!(age, Value::Integer(age_value)),
                None => assert_eq!(age, Value::Missing),
            }
        }
    }
}
