//! Classification metrics over class indices and probability rows, computed
//! the way scikit-learn computes them so numbers can be cross-checked.
//!
//! Conventions:
//! - precision, recall and F1 of a class with nothing to divide by are 0
//!   (scikit-learn's `zero_division=0`);
//! - macro averages run over the classes present in the true or the predicted
//!   labels, as scikit-learn's default `labels` does;
//! - the headline `precision`/`recall`/`f1` of a report are those of class 1
//!   for two classes, and the macro averages otherwise;
//! - ROC AUC uses average ranks for tied scores (the Mann–Whitney statistic),
//!   one-vs-rest macro for more than two classes, and is undefined when a
//!   class is absent from the true labels;
//! - log loss clips probabilities to `[1e-15, 1 - 1e-15]`.
//!
//! Knows nothing of models or training: it only sees labels and numbers.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::error::MlpError;
use crate::network::argmax;

/// Probability clipping bound of [`log_loss`].
pub const LOG_LOSS_EPSILON: f64 = 1e-15;

/// Everything [`evaluate`] measures on one labelled set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    /// Fraction of rows whose most probable class is the true one.
    pub accuracy: f64,
    /// Class 1's precision for two classes, otherwise the macro average.
    pub precision: f64,
    /// Class 1's recall for two classes, otherwise the macro average.
    pub recall: f64,
    /// Class 1's F1 for two classes, otherwise the macro average.
    pub f1: f64,
    /// Unweighted mean of the per-class precisions.
    pub macro_precision: f64,
    /// Unweighted mean of the per-class recalls.
    pub macro_recall: f64,
    /// Unweighted mean of the per-class F1 scores.
    pub macro_f1: f64,
    /// Binary, or one-vs-rest macro; `None` when a class has no true rows
    /// (or every row is of one class).
    pub roc_auc: Option<f64>,
    /// Mean negative log-probability of the true class.
    pub log_loss: f64,
    /// Row counts, `confusion[true_class][predicted_class]`.
    pub confusion: Vec<Vec<u64>>,
    /// Rows evaluated.
    pub n_samples: usize,
}

/// One class's scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Of the rows predicted as this class, the fraction that are.
    pub precision: f64,
    /// Of the rows of this class, the fraction predicted so.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Rows truly of this class.
    pub support: u64,
    /// Rows predicted as this class.
    pub predicted: u64,
}

/// Scores `proba` (`[n_rows, n_classes]`, rows of class probabilities) against
/// the true classes; predictions are each row's most probable class.
pub fn evaluate(
    y_true: &[usize],
    proba: ArrayView2<'_, f32>,
) -> Result<ClassificationReport, MlpError> {
    let n_classes = proba.ncols();
    if proba.nrows() == 0 {
        return Err(MlpError::data(
            "evaluation",
            "has no rows; at least 1 is needed",
        ));
    }
    if n_classes < 2 {
        return Err(MlpError::data(
            "evaluation",
            format!("probabilities have {n_classes} columns; a classifier has at least 2"),
        ));
    }
    if proba.nrows() != y_true.len() {
        return Err(MlpError::data(
            "evaluation",
            format!(
                "has {} probability rows but {} labels; they must match one to one",
                proba.nrows(),
                y_true.len()
            ),
        ));
    }
    if let Some((row, &label)) = y_true.iter().enumerate().find(|(_, l)| **l >= n_classes) {
        return Err(MlpError::data(
            "evaluation",
            format!("row {row} has label {label}, but the probabilities have {n_classes} columns"),
        ));
    }
    if let Some(((row, column), value)) = proba
        .indexed_iter()
        .find(|(_, p)| !(p.is_finite() && (0.0..=1.0).contains(*p)))
    {
        return Err(MlpError::data(
            "evaluation",
            format!("row {row}, column {column} has probability {value}; it must lie in [0, 1]"),
        ));
    }

    let y_pred = predicted_classes(proba);
    let confusion = confusion_matrix(y_true, &y_pred, n_classes);
    let scores = class_scores(&confusion);
    let macro_scores = macro_average(&scores);
    let headline = if n_classes == 2 {
        (scores[1].precision, scores[1].recall, scores[1].f1)
    } else {
        macro_scores
    };
    Ok(ClassificationReport {
        accuracy: accuracy(y_true, &y_pred),
        precision: headline.0,
        recall: headline.1,
        f1: headline.2,
        macro_precision: macro_scores.0,
        macro_recall: macro_scores.1,
        macro_f1: macro_scores.2,
        roc_auc: roc_auc(y_true, proba),
        log_loss: log_loss(y_true, proba),
        confusion,
        n_samples: y_true.len(),
    })
}

/// Each row's most probable class (the first on ties).
pub fn predicted_classes(proba: ArrayView2<'_, f32>) -> Vec<usize> {
    proba.rows().into_iter().map(argmax).collect()
}

/// Fraction of positions where the two label lists agree; 0 when empty.
///
/// # Panics
/// If the lists differ in length.
pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> f64 {
    assert_eq!(y_true.len(), y_pred.len(), "label lists differ in length");
    if y_true.is_empty() {
        return 0.0;
    }
    let correct = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    correct as f64 / y_true.len() as f64
}

/// `confusion[true][predicted]` row counts over `n_classes` classes.
///
/// # Panics
/// If the lists differ in length or a label is `n_classes` or more.
pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Vec<Vec<u64>> {
    assert_eq!(y_true.len(), y_pred.len(), "label lists differ in length");
    let mut confusion = vec![vec![0u64; n_classes]; n_classes];
    for (&truth, &predicted) in y_true.iter().zip(y_pred) {
        confusion[truth][predicted] += 1;
    }
    confusion
}

/// Precision, recall and F1 of every class, from a confusion matrix.
pub fn class_scores(confusion: &[Vec<u64>]) -> Vec<ClassScores> {
    (0..confusion.len())
        .map(|class| {
            let true_positives = confusion[class][class];
            let support: u64 = confusion[class].iter().sum();
            let predicted: u64 = confusion.iter().map(|row| row[class]).sum();
            let precision = ratio(true_positives, predicted);
            let recall = ratio(true_positives, support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassScores {
                precision,
                recall,
                f1,
                support,
                predicted,
            }
        })
        .collect()
}

/// Unweighted means `(precision, recall, f1)` over the classes that occur
/// as a true or a predicted label; zeros when none does.
pub fn macro_average(scores: &[ClassScores]) -> (f64, f64, f64) {
    let present: Vec<&ClassScores> = scores
        .iter()
        .filter(|s| s.support > 0 || s.predicted > 0)
        .collect();
    if present.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let n = present.len() as f64;
    (
        present.iter().map(|s| s.precision).sum::<f64>() / n,
        present.iter().map(|s| s.recall).sum::<f64>() / n,
        present.iter().map(|s| s.f1).sum::<f64>() / n,
    )
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Area under the ROC curve of `scores` for the positives marked in
/// `is_positive`: the probability that a random positive outscores a random
/// negative, ties counting half. `None` without both positives and negatives.
///
/// # Panics
/// If the slices differ in length.
pub fn binary_roc_auc(is_positive: &[bool], scores: &[f64]) -> Option<f64> {
    assert_eq!(
        is_positive.len(),
        scores.len(),
        "labels and scores differ in length"
    );
    let n_positive = is_positive.iter().filter(|&&p| p).count();
    let n_negative = is_positive.len() - n_positive;
    if n_positive == 0 || n_negative == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let positives_in_group = order[start..end]
            .iter()
            .filter(|&&i| is_positive[i])
            .count();
        positive_rank_sum += average_rank * positives_in_group as f64;
        start = end;
    }
    let n_pos = n_positive as f64;
    let u = positive_rank_sum - n_pos * (n_pos + 1.0) / 2.0;
    Some(u / (n_pos * n_negative as f64))
}

/// ROC AUC of probability rows: column 1 against class 1 for two classes,
/// otherwise the unweighted mean of each class against the rest. `None`
/// when some class has no true rows or every row is of one class.
///
/// # Panics
/// If `y_true` and `proba` differ in rows or a label is out of range.
pub fn roc_auc(y_true: &[usize], proba: ArrayView2<'_, f32>) -> Option<f64> {
    assert_eq!(
        y_true.len(),
        proba.nrows(),
        "labels and rows differ in count"
    );
    let n_classes = proba.ncols();
    let one_vs_rest = |class: usize| {
        let is_positive: Vec<bool> = y_true.iter().map(|&y| y == class).collect();
        let scores: Vec<f64> = proba.column(class).iter().map(|&p| f64::from(p)).collect();
        binary_roc_auc(&is_positive, &scores)
    };
    if n_classes == 2 {
        return one_vs_rest(1);
    }
    let mut total = 0.0;
    for class in 0..n_classes {
        total += one_vs_rest(class)?;
    }
    Some(total / n_classes as f64)
}

/// Mean of `-ln p(true class)` with `p` clipped to `[1e-15, 1 - 1e-15]`.
///
/// # Panics
/// If `y_true` and `proba` differ in rows or a label is out of range.
pub fn log_loss(y_true: &[usize], proba: ArrayView2<'_, f32>) -> f64 {
    assert_eq!(
        y_true.len(),
        proba.nrows(),
        "labels and rows differ in count"
    );
    if y_true.is_empty() {
        return 0.0;
    }
    let total: f64 = y_true
        .iter()
        .zip(proba.rows())
        .map(|(&label, row)| clipped_log_loss_term(f64::from(row[label])))
        .sum();
    total / y_true.len() as f64
}

/// `-ln p` for one true-class probability, clipped like [`log_loss`].
pub(crate) fn clipped_log_loss_term(probability: f64) -> f64 {
    -probability
        .clamp(LOG_LOSS_EPSILON, 1.0 - LOG_LOSS_EPSILON)
        .ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Probability rows for two classes from class-1 scores.
    fn binary(scores: &[f32]) -> Array2<f32> {
        Array2::from_shape_fn((scores.len(), 2), |(row, column)| {
            if column == 1 {
                scores[row]
            } else {
                1.0 - scores[row]
            }
        })
    }

    #[test]
    fn accuracy_and_confusion_by_hand() {
        assert!(close(accuracy(&[0, 1, 1, 0], &[0, 1, 0, 0]), 0.75));
        assert_eq!(accuracy(&[], &[]), 0.0);
        let confusion = confusion_matrix(&[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 2, 0], 3);
        assert_eq!(confusion, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 1]]);
    }

    #[test]
    fn per_class_and_macro_scores_by_hand() {
        // Class 0: tp 1 of 2 predicted, 2 true → P ½, R ½, F1 ½.
        // Class 1: tp 2 of 3 predicted, 2 true → P ⅔, R 1, F1 0.8.
        // Class 2: tp 1 of 1 predicted, 2 true → P 1, R ½, F1 ⅔.
        let confusion = confusion_matrix(&[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 2, 0], 3);
        let scores = class_scores(&confusion);
        assert!(close(scores[0].precision, 0.5) && close(scores[0].recall, 0.5));
        assert!(close(scores[0].f1, 0.5));
        assert!(close(scores[1].precision, 2.0 / 3.0) && close(scores[1].recall, 1.0));
        assert!(close(scores[1].f1, 0.8));
        assert!(close(scores[2].precision, 1.0) && close(scores[2].recall, 0.5));
        assert!(close(scores[2].f1, 2.0 / 3.0));
        assert_eq!(scores[1].support, 2);
        assert_eq!(scores[1].predicted, 3);
        let (p, r, f1) = macro_average(&scores);
        assert!(close(p, (0.5 + 2.0 / 3.0 + 1.0) / 3.0));
        assert!(close(r, (0.5 + 1.0 + 0.5) / 3.0));
        assert!(close(f1, (0.5 + 0.8 + 2.0 / 3.0) / 3.0));
    }

    #[test]
    fn zero_division_gives_zero_and_absent_classes_leave_the_macro_average() {
        // Class 2 never occurs; class 1 is never predicted.
        let confusion = confusion_matrix(&[0, 0, 1], &[0, 0, 0], 3);
        let scores = class_scores(&confusion);
        assert_eq!(
            (scores[1].precision, scores[1].recall, scores[1].f1),
            (0.0, 0.0, 0.0)
        );
        let (p, r, f1) = macro_average(&scores);
        // Class 0: P ⅔, R 1, F1 0.8; class 1: zeros; class 2 left out.
        assert!(close(p, 1.0 / 3.0) && close(r, 0.5) && close(f1, 0.4));
    }

    #[test]
    fn roc_auc_by_hand_including_ties() {
        let labels = [false, false, true, true];
        assert_eq!(binary_roc_auc(&labels, &[0.1, 0.4, 0.35, 0.8]), Some(0.75));
        // Positives {0.5, 0.9} vs negatives {0.1, 0.5}: pairs 1, ½, 1, 1 → 3.5 / 4.
        assert_eq!(binary_roc_auc(&labels, &[0.1, 0.5, 0.5, 0.9]), Some(0.875));
        // All scores tied: every pair counts half.
        assert_eq!(
            binary_roc_auc(&[false, true, false, true], &[0.3; 4]),
            Some(0.5)
        );
        // A perfect and an inverted ranking.
        assert_eq!(binary_roc_auc(&labels, &[0.1, 0.2, 0.3, 0.4]), Some(1.0));
        assert_eq!(binary_roc_auc(&labels, &[0.4, 0.3, 0.2, 0.1]), Some(0.0));
        assert_eq!(binary_roc_auc(&[true, true], &[0.1, 0.2]), None);
    }

    #[test]
    fn multiclass_roc_auc_is_one_vs_rest_macro() {
        let proba = array![
            [0.7f32, 0.2, 0.1],
            [0.2, 0.5, 0.3],
            [0.3, 0.4, 0.3],
            [0.1, 0.3, 0.6],
        ];
        let y = [0, 1, 2, 2];
        // Class 0: positive 0.7 beats 0.2, 0.3, 0.1 → 1.
        // Class 1: positive 0.5 beats 0.2, 0.4, 0.3 → 1.
        // Class 2: positives {0.3, 0.6} vs negatives {0.1, 0.3}: 1, ½, 1, 1 → 0.875.
        let auc = roc_auc(&y, proba.view()).unwrap();
        assert!(close(auc, (1.0 + 1.0 + 0.875) / 3.0), "{auc}");
        assert_eq!(roc_auc(&[0, 1, 1, 1], proba.view()), None);
    }

    #[test]
    fn log_loss_by_hand_and_clipped() {
        let proba = array![[0.8f32, 0.2], [0.3, 0.7]];
        let expected = -(0.8f64.ln() + 0.7f64.ln()) / 2.0;
        assert!((log_loss(&[0, 1], proba.view()) - expected).abs() < 1e-7);
        let certain_and_wrong = array![[0.0f32, 1.0]];
        assert!(close(
            log_loss(&[0], certain_and_wrong.view()),
            -(1e-15f64).ln()
        ));
        assert!(close(
            log_loss(&[1], certain_and_wrong.view()),
            -(1.0 - 1e-15f64).ln()
        ));
    }

    #[test]
    fn evaluate_binary_reports_class_one() {
        let proba = binary(&[0.1, 0.4, 0.35, 0.8]);
        let report = evaluate(&[0, 0, 1, 1], proba.view()).unwrap();
        assert_eq!(report.confusion, vec![vec![2, 0], vec![1, 1]]);
        assert!(close(report.accuracy, 0.75));
        assert!(close(report.precision, 1.0));
        assert!(close(report.recall, 0.5));
        assert!(close(report.f1, 2.0 / 3.0));
        // Class 0: P ⅔, R 1, F1 0.8.
        assert!(close(report.macro_precision, (2.0 / 3.0 + 1.0) / 2.0));
        assert!(close(report.macro_f1, (0.8 + 2.0 / 3.0) / 2.0));
        assert_eq!(report.roc_auc, Some(0.75));
        assert_eq!(report.n_samples, 4);
        let expected_loss = -((0.9f64).ln() + (0.6f64).ln() + (0.35f64).ln() + (0.8f64).ln()) / 4.0;
        assert!((report.log_loss - expected_loss).abs() < 1e-6);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["roc_auc"], 0.75);
        assert_eq!(json["confusion"][1][0], 1);
    }

    #[test]
    fn evaluate_multiclass_uses_macro_headlines() {
        let proba = array![
            [0.7f32, 0.2, 0.1],
            [0.6, 0.3, 0.1],
            [0.1, 0.8, 0.1],
            [0.2, 0.7, 0.1],
            [0.1, 0.1, 0.8],
            [0.5, 0.2, 0.3],
        ];
        let report = evaluate(&[0, 0, 1, 1, 2, 2], proba.view()).unwrap();
        assert_eq!(
            report.confusion,
            vec![vec![2, 0, 0], vec![0, 2, 0], vec![1, 0, 1]]
        );
        assert_eq!(report.f1, report.macro_f1);
        assert_eq!(report.precision, report.macro_precision);
        // Class 0: P ⅔ R 1 F1 0.8; class 1: 1 1 1; class 2: P 1 R ½ F1 ⅔.
        assert!(close(report.macro_f1, (0.8 + 1.0 + 2.0 / 3.0) / 3.0));
    }

    #[test]
    fn evaluate_rejects_bad_input_with_clear_messages() {
        let proba = binary(&[0.2, 0.9]);
        let message = |y: &[usize], p: ArrayView2<'_, f32>| evaluate(y, p).unwrap_err().to_string();
        assert!(message(&[0], proba.view()).contains("has 2 probability rows but 1 labels"));
        assert!(message(&[0, 2], proba.view()).contains("row 1 has label 2"));
        assert!(message(&[], Array2::zeros((0, 2)).view()).contains("has no rows"));
        assert!(message(&[0], Array2::zeros((1, 1)).view()).contains("1 columns"));
        let mut nan = proba.clone();
        nan[[1, 0]] = f32::NAN;
        assert!(message(&[0, 1], nan.view()).contains("row 1, column 0 has probability NaN"));
    }
}
