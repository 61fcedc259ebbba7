//! A one-line reading of a training curve, for progress displays and run
//! logs. Deterministic rules, checked in this order for the last epoch of
//! the history:
//!
//! 1. no epochs → "no epochs yet";
//! 2. first epoch → "starting: loss L, accuracy A%";
//! 3. validation loss rose in each of the last [`TREND_EPOCHS`] (or more)
//!    epochs → "validation loss rising for N epochs: overfitting";
//! 4. training loss rose in each of the last [`TREND_EPOCHS`] (or more)
//!    epochs → "training loss rising for N epochs: lower the learning rate";
//! 5. this was the last allowed epoch and the training loss still fell by
//!    more than [`STILL_FALLING`] (relative) in it → "did not converge: raise epochs";
//! 6. the training loss changed by less than [`CONVERGED`] (relative) in each
//!    of the last [`TREND_EPOCHS`] epochs → "converged";
//! 7. otherwise the direction of the last step: "loss falling|rising|flat,
//!    accuracy rising|falling|flat" (training loss relative change below
//!    [`CONVERGED`] and accuracy change below [`ACCURACY_FLAT`] count as flat).
//!
//! Knows nothing of how the epochs were produced or where the text goes.

use crate::train::EpochStats;

/// Consecutive epochs a rise or a plateau must last to be reported.
pub const TREND_EPOCHS: usize = 3;
/// Relative training-loss change below which an epoch counts as no change.
pub const CONVERGED: f64 = 1e-3;
/// Relative training-loss drop above which the loss is "still falling fast".
pub const STILL_FALLING: f64 = 1e-2;
/// Accuracy change (absolute, as a fraction) below which accuracy is flat.
pub const ACCURACY_FLAT: f64 = 1e-3;

/// The observation for the last epoch of `history`, given the run's epoch limit.
pub fn observe(history: &[EpochStats], max_epochs: usize) -> String {
    let Some(last) = history.last() else {
        return "no epochs yet".to_owned();
    };
    if history.len() == 1 {
        return format!(
            "starting: loss {:.4}, accuracy {:.1}%",
            last.train_loss,
            100.0 * last.train_accuracy
        );
    }

    let val_losses: Vec<Option<f64>> = history.iter().map(|h| h.val_loss).collect();
    let val_rises = trailing_rises(&val_losses);
    if val_rises >= TREND_EPOCHS {
        return format!("validation loss rising for {val_rises} epochs: overfitting");
    }
    let train_losses: Vec<Option<f64>> = history.iter().map(|h| Some(h.train_loss)).collect();
    let train_rises = trailing_rises(&train_losses);
    if train_rises >= TREND_EPOCHS {
        return format!("training loss rising for {train_rises} epochs: lower the learning rate");
    }

    let changes: Vec<f64> = history
        .windows(2)
        .map(|pair| relative_change(pair[0].train_loss, pair[1].train_loss))
        .collect();
    let last_change = changes[changes.len() - 1];
    if last.epoch >= max_epochs && last_change < -STILL_FALLING {
        return "did not converge: raise epochs".to_owned();
    }
    if changes.len() >= TREND_EPOCHS
        && changes[changes.len() - TREND_EPOCHS..]
            .iter()
            .all(|c| c.abs() < CONVERGED)
    {
        return "converged".to_owned();
    }

    let previous = &history[history.len() - 2];
    let loss = if last_change.abs() < CONVERGED {
        "flat"
    } else if last_change < 0.0 {
        "falling"
    } else {
        "rising"
    };
    let accuracy_change = last.train_accuracy - previous.train_accuracy;
    let accuracy = if accuracy_change.abs() < ACCURACY_FLAT {
        "flat"
    } else if accuracy_change > 0.0 {
        "rising"
    } else {
        "falling"
    };
    format!("loss {loss}, accuracy {accuracy}")
}

/// `(after - before) / |before|`, guarded against a zero `before`.
fn relative_change(before: f64, after: f64) -> f64 {
    (after - before) / before.abs().max(f64::MIN_POSITIVE)
}

/// How many of the most recent epochs each had a higher value than the one before.
fn trailing_rises(values: &[Option<f64>]) -> usize {
    values
        .windows(2)
        .rev()
        .take_while(|pair| matches!((pair[0], pair[1]), (Some(a), Some(b)) if b > a))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn history(train: &[(f64, f64)], val: Option<&[f64]>) -> Vec<EpochStats> {
        train
            .iter()
            .enumerate()
            .map(|(i, &(loss, accuracy))| EpochStats {
                epoch: i + 1,
                train_loss: loss,
                train_accuracy: accuracy,
                val_loss: val.map(|v| v[i]),
                val_accuracy: val.map(|_| 0.5),
                learning_rate: 1e-3,
                duration: Duration::ZERO,
            })
            .collect()
    }

    #[test]
    fn empty_and_first_epoch() {
        assert_eq!(observe(&[], 10), "no epochs yet");
        assert_eq!(
            observe(&history(&[(0.7125, 0.52)], None), 10),
            "starting: loss 0.7125, accuracy 52.0%"
        );
    }

    #[test]
    fn overfitting_when_validation_loss_rises_three_epochs() {
        let train = [(1.0, 0.5), (0.8, 0.6), (0.6, 0.7), (0.5, 0.8), (0.4, 0.9)];
        let rising = [0.9, 0.7, 0.75, 0.8, 0.85];
        assert_eq!(
            observe(&history(&train, Some(&rising)), 50),
            "validation loss rising for 3 epochs: overfitting"
        );
        // Two rises are not yet a trend.
        let twice = [0.9, 0.7, 0.6, 0.65, 0.7];
        assert_eq!(
            observe(&history(&train, Some(&twice)), 50),
            "loss falling, accuracy rising"
        );
    }

    #[test]
    fn rising_training_loss_suggests_a_lower_learning_rate() {
        let train = [(1.0, 0.5), (0.9, 0.5), (1.2, 0.5), (1.5, 0.5), (2.0, 0.4)];
        assert_eq!(
            observe(&history(&train, None), 50),
            "training loss rising for 3 epochs: lower the learning rate"
        );
    }

    #[test]
    fn converged_after_three_tiny_changes() {
        let train = [
            (1.0, 0.5),
            (0.5, 0.8),
            (0.5004, 0.8),
            (0.5001, 0.8),
            (0.4999, 0.8),
        ];
        assert_eq!(observe(&history(&train, None), 50), "converged");
        // Also at the last epoch: a plateau is not "did not converge".
        assert_eq!(observe(&history(&train, None), 5), "converged");
        // Only two tiny changes: described, not converged.
        assert_eq!(
            observe(&history(&train[..4], None), 50),
            "loss flat, accuracy flat"
        );
    }

    #[test]
    fn still_falling_fast_at_the_last_epoch_did_not_converge() {
        let train = [(1.0, 0.5), (0.8, 0.6), (0.7, 0.65)];
        assert_eq!(
            observe(&history(&train, None), 3),
            "did not converge: raise epochs"
        );
        assert_eq!(
            observe(&history(&train, None), 10),
            "loss falling, accuracy rising"
        );
    }

    #[test]
    fn describes_the_last_step_otherwise() {
        let train = [(1.0, 0.5), (0.8, 0.7), (0.9, 0.6)];
        assert_eq!(
            observe(&history(&train, None), 10),
            "loss rising, accuracy falling"
        );
        let train = [(1.0, 0.5), (0.8, 0.7), (0.7, 0.7)];
        assert_eq!(
            observe(&history(&train, None), 10),
            "loss falling, accuracy flat"
        );
    }
}
