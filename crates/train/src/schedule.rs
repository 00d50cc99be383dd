//! The learning-rate schedule: linear warm-up from 0 to the peak, then linear decay to 0 at the end of the
//! run (or a constant peak). A pure function of the step, so a resumed run needs no schedule state beyond
//! the step and the spec.

use serde::{Deserialize, Serialize};

/// What follows the warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Decay {
    /// Linear decay to 0 at the end of the run.
    #[default]
    Linear,
    /// The peak rate until the end.
    Constant,
}

/// Learning rate per optimiser step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Peak rate, reached at the end of the warm-up.
    pub peak: f64,
    /// Warm-up steps.
    pub warmup: u64,
    /// Steps in the run.
    pub total: u64,
    /// What follows the warm-up.
    pub decay: Decay,
}

impl LrSchedule {
    /// The rate of the step with 0-based index `step`: `peak * (step + 1) / warmup` during the warm-up, then
    /// `peak * (total - step) / (total - warmup)` with linear decay. No step gets a rate of 0.
    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup {
            return self.peak * (step + 1) as f64 / self.warmup as f64;
        }
        match self.decay {
            Decay::Constant => self.peak,
            Decay::Linear => {
                let span = self.total.saturating_sub(self.warmup).max(1);
                let left = self.total.saturating_sub(step).max(1);
                self.peak * left as f64 / span as f64
            }
        }
    }
}

/// Whether an event that happens every `every` steps is due after `step` steps (never when `every` is 0).
pub fn due(step: u64, every: u64) -> bool {
    every > 0 && step.is_multiple_of(every)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_linear_decay() {
        let s = LrSchedule {
            peak: 1.0,
            warmup: 4,
            total: 10,
            decay: Decay::Linear,
        };
        let lrs: Vec<f64> = (0..10).map(|i| s.lr(i)).collect();
        let expected = [
            0.25,
            0.5,
            0.75,
            1.0,
            1.0,
            5.0 / 6.0,
            4.0 / 6.0,
            0.5,
            2.0 / 6.0,
            1.0 / 6.0,
        ];
        for (got, want) in lrs.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{lrs:?}");
        }
    }

    #[test]
    fn constant_and_no_warmup() {
        let s = LrSchedule {
            peak: 2.0,
            warmup: 0,
            total: 3,
            decay: Decay::Constant,
        };
        assert_eq!((0..3).map(|i| s.lr(i)).collect::<Vec<_>>(), vec![2.0; 3]);
        let d = LrSchedule {
            decay: Decay::Linear,
            ..s
        };
        assert_eq!(d.lr(0), 2.0);
        assert!((d.lr(2) - 2.0 / 3.0).abs() < 1e-12);
    }
}
