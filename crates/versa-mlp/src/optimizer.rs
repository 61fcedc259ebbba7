//! Parameter updates: Adam and (Nesterov) momentum SGD, with their state
//! preallocated beside the parameters. Knows nothing of losses or data.

use ndarray::{ArrayBase, DataMut, Dimension, Zip};

use crate::config::Optimizer;
use crate::network::{Params, Scalar};

/// An optimizer plus its per-parameter state.
#[derive(Debug)]
pub(crate) struct OptimizerState<T> {
    optimizer: Optimizer,
    learning_rate: f64,
    /// Adam's first moment, or SGD's velocity.
    first: Params<T>,
    /// Adam's second moment (unused by SGD).
    second: Params<T>,
    steps: u64,
}

impl<T: Scalar> OptimizerState<T> {
    pub(crate) fn new(optimizer: Optimizer, learning_rate: f64, params: &Params<T>) -> Self {
        OptimizerState {
            optimizer,
            learning_rate,
            first: Params::zeros_like(params),
            second: match optimizer {
                Optimizer::Adam { .. } => Params::zeros_like(params),
                Optimizer::Sgd { .. } => Params {
                    weights: Vec::new(),
                    biases: Vec::new(),
                },
            },
            steps: 0,
        }
    }

    /// Moves `params` one step against `grads`.
    pub(crate) fn step(&mut self, params: &mut Params<T>, grads: &Params<T>) {
        self.steps += 1;
        match self.optimizer {
            Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                // Folding both bias corrections into the step size (as in the
                // Adam paper's section 2) costs nothing per parameter.
                let t = self.steps as f64;
                let corrected_rate =
                    self.learning_rate * (1.0 - beta2.powf(t)).sqrt() / (1.0 - beta1.powf(t));
                let adam = Adam {
                    beta1: T::from_f64(beta1),
                    beta2: T::from_f64(beta2),
                    epsilon: T::from_f64(epsilon),
                    rate: T::from_f64(corrected_rate),
                };
                for layer in 0..params.n_layers() {
                    adam.update(
                        &mut params.weights[layer],
                        &grads.weights[layer],
                        &mut self.first.weights[layer],
                        &mut self.second.weights[layer],
                    );
                    adam.update(
                        &mut params.biases[layer],
                        &grads.biases[layer],
                        &mut self.first.biases[layer],
                        &mut self.second.biases[layer],
                    );
                }
            }
            Optimizer::Sgd { momentum, nesterov } => {
                let sgd = Sgd {
                    momentum: T::from_f64(momentum),
                    rate: T::from_f64(self.learning_rate),
                    nesterov,
                };
                for layer in 0..params.n_layers() {
                    sgd.update(
                        &mut params.weights[layer],
                        &grads.weights[layer],
                        &mut self.first.weights[layer],
                    );
                    sgd.update(
                        &mut params.biases[layer],
                        &grads.biases[layer],
                        &mut self.first.biases[layer],
                    );
                }
            }
        }
    }
}

struct Adam<T> {
    beta1: T,
    beta2: T,
    epsilon: T,
    rate: T,
}

impl<T: Scalar> Adam<T> {
    fn update<S, G, D>(
        &self,
        params: &mut ArrayBase<S, D>,
        grads: &ArrayBase<G, D>,
        first: &mut ArrayBase<S, D>,
        second: &mut ArrayBase<S, D>,
    ) where
        S: DataMut<Elem = T>,
        G: ndarray::Data<Elem = T>,
        D: Dimension,
    {
        let one = T::one();
        Zip::from(params)
            .and(grads)
            .and(first)
            .and(second)
            .for_each(|p, &g, m, v| {
                *m = self.beta1 * *m + (one - self.beta1) * g;
                *v = self.beta2 * *v + (one - self.beta2) * g * g;
                *p -= self.rate * *m / (v.sqrt() + self.epsilon);
            });
    }
}

struct Sgd<T> {
    momentum: T,
    rate: T,
    nesterov: bool,
}

impl<T: Scalar> Sgd<T> {
    fn update<S, G, D>(
        &self,
        params: &mut ArrayBase<S, D>,
        grads: &ArrayBase<G, D>,
        velocity: &mut ArrayBase<S, D>,
    ) where
        S: DataMut<Elem = T>,
        G: ndarray::Data<Elem = T>,
        D: Dimension,
    {
        // scikit-learn's formulation: v = μv - ηg; then p += v, or with
        // Nesterov p += μv - ηg.
        let zip = Zip::from(params).and(grads).and(velocity);
        if self.nesterov {
            zip.for_each(|p, &g, v| {
                *v = self.momentum * *v - self.rate * g;
                *p += self.momentum * *v - self.rate * g;
            });
        } else {
            zip.for_each(|p, &g, v| {
                *v = self.momentum * *v - self.rate * g;
                *p += *v;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2, array};

    fn one_param(value: f64) -> Params<f64> {
        Params {
            weights: vec![Array2::from_elem((1, 1), value)],
            biases: vec![Array1::zeros(1)],
        }
    }

    #[test]
    fn adam_first_step_moves_by_the_learning_rate() {
        // With bias correction, Adam's first step is lr * g / (|g| + eps') ≈ lr * sign(g).
        let mut params = one_param(1.0);
        let mut grads = one_param(4.0);
        grads.biases[0] = array![-0.5];
        let mut state = OptimizerState::new(Optimizer::ADAM, 0.01, &params);
        state.step(&mut params, &grads);
        assert!((params.weights[0][[0, 0]] - 0.99).abs() < 1e-6);
        assert!((params.biases[0][0] - 0.01).abs() < 1e-6);
    }

    #[test]
    fn adam_minimises_a_quadratic() {
        let mut params = one_param(3.0);
        let mut state = OptimizerState::new(Optimizer::ADAM, 0.05, &params);
        for _ in 0..2000 {
            let grads = one_param(2.0 * params.weights[0][[0, 0]]);
            state.step(&mut params, &grads);
        }
        assert!(params.weights[0][[0, 0]].abs() < 1e-2);
    }

    #[test]
    fn sgd_momentum_and_nesterov_follow_their_recurrences() {
        let grads = one_param(1.0);
        let mut plain = one_param(0.0);
        let mut state = OptimizerState::new(
            Optimizer::Sgd {
                momentum: 0.5,
                nesterov: false,
            },
            0.1,
            &plain,
        );
        state.step(&mut plain, &grads); // v = -0.1, p = -0.1
        state.step(&mut plain, &grads); // v = -0.15, p = -0.25
        assert!((plain.weights[0][[0, 0]] + 0.25).abs() < 1e-12);

        let mut nesterov = one_param(0.0);
        let mut state = OptimizerState::new(
            Optimizer::Sgd {
                momentum: 0.5,
                nesterov: true,
            },
            0.1,
            &nesterov,
        );
        state.step(&mut nesterov, &grads); // v = -0.1, p += -0.05 - 0.1
        state.step(&mut nesterov, &grads); // v = -0.15, p += -0.075 - 0.1
        assert!((nesterov.weights[0][[0, 0]] + 0.325).abs() < 1e-12);
    }
}
