//! Deterministic randomness: every random draw of a run (initialisation, dropout, SiFT noise) comes from the
//! backend RNG re-seeded from (seed, purpose, step, micro-step) right before use, so a resumed run draws
//! exactly what an uninterrupted one would.
//!
//! Two runs in one process (a sweep's threads, a test harness) share more than they should: burn's CPU
//! backend keeps one RNG per process, and burn's autodiff, after every backward pass, frees the nodes it
//! judges unused in ALL autograd graphs of the process, including a graph another thread is building. So a
//! training step holds the process-wide [`Exclusive`] guard from its first forward pass to its checkpoint,
//! and so do initialisation and loading: the steps of concurrent runs interleave and each draws exactly
//! its own random numbers. Even so, with burn 0.21 we measured runs that trained concurrently in one
//! process ending a few ulps away from the same run trained alone; exact reproduction (and bit-identical
//! resume) needs one run per process, which is how the command line runs them.

use std::sync::{Mutex, MutexGuard};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId, Parameter};
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor};

static STEP_LOCK: Mutex<()> = Mutex::new(());

/// The right to seed and draw from the backend RNG and to use autodiff, held by one training step of the
/// process at a time.
pub struct Exclusive {
    _guard: MutexGuard<'static, ()>,
}

impl Exclusive {
    /// Seeds the backend RNG of `device`.
    pub fn seed<B: Backend>(&self, device: &B::Device, seed: u64) {
        B::seed(device, seed);
    }
}

/// Waits for the process-wide training guard.
pub fn exclusive() -> Exclusive {
    Exclusive {
        _guard: STEP_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    }
}

/// What a seed is used for; part of every derived seed so uses never share a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// Parameter initialisation of a fresh model.
    Init = 1,
    /// Dropout masks of a training forward pass.
    Dropout = 2,
    /// Initialisation of a fine-tuning head.
    HeadInit = 3,
    /// SiFT's initial perturbation noise.
    SiftNoise = 4,
    /// Order of fine-tuning examples.
    Order = 5,
}

/// SplitMix64 finaliser.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes several words into one well-spread 64-bit seed.
pub fn mix(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(0x243F_6A88_85A3_08D3, |acc, &w| splitmix(acc ^ splitmix(w)))
}

/// The seed for `purpose` at (`step`, `micro`) of a run seeded with `seed`.
pub fn derive(seed: u64, purpose: Purpose, step: u64, micro: u64) -> u64 {
    mix(&[seed, purpose as u64, step, micro])
}

/// Seeds the backend RNG of `device` with `seed` and runs `f` holding the [`Exclusive`] guard.
pub fn with_seed<B: Backend, R>(device: &B::Device, seed: u64, f: impl FnOnce() -> R) -> R {
    let guard = exclusive();
    guard.seed::<B>(device, seed);
    f()
}

struct Materialise;

impl<B: Backend> ModuleVisitor<B> for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let _ = param.val();
    }

    fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<B, D, Int>>) {
        let _ = param.val();
    }

    fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<B, D, Bool>>) {
        let _ = param.val();
    }
}

/// Gives every parameter the id of its position in the module's traversal (1, 2, ...).
struct SequentialIds(u64);

impl SequentialIds {
    /// `param` with the next id.
    fn renumber<T: Parameter>(&mut self, param: Param<T>) -> Param<T> {
        let (_, value, mapper) = param.consume();
        self.0 += 1;
        Param::from_mapped_value(ParamId::from(self.0), value, mapper)
    }
}

impl<B: Backend> ModuleMapper<B> for SequentialIds {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        self.renumber(param)
    }

    fn map_int<const D: usize>(
        &mut self,
        param: Param<Tensor<B, D, Int>>,
    ) -> Param<Tensor<B, D, Int>> {
        self.renumber(param)
    }

    fn map_bool<const D: usize>(
        &mut self,
        param: Param<Tensor<B, D, Bool>>,
    ) -> Param<Tensor<B, D, Bool>> {
        self.renumber(param)
    }
}

/// Builds a module with `build` and draws all its initial values now, from the backend RNG seeded with
/// `seed`, under the lock. (burn initialises parameters lazily, on first use: without this the draws would
/// happen wherever a parameter is first touched, in whatever order, seeded by whatever came before.) The
/// parameters are then numbered in traversal order: burn gives each a random id, which checkpoints and
/// optimiser states record, so identical runs would otherwise write different checkpoint bytes.
pub fn init_module<B: Backend, M: Module<B>, E>(
    device: &B::Device,
    seed: u64,
    build: impl FnOnce() -> Result<M, E>,
) -> Result<M, E> {
    with_seed::<B, _>(device, seed, || {
        let module = build()?;
        module.visit(&mut Materialise);
        Ok(module.map(&mut SequentialIds(0)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ_by_every_component() {
        let base = derive(7, Purpose::Dropout, 3, 0);
        assert_ne!(base, derive(8, Purpose::Dropout, 3, 0));
        assert_ne!(base, derive(7, Purpose::Init, 3, 0));
        assert_ne!(base, derive(7, Purpose::Dropout, 4, 0));
        assert_ne!(base, derive(7, Purpose::Dropout, 3, 1));
        assert_eq!(base, derive(7, Purpose::Dropout, 3, 0));
    }
}
