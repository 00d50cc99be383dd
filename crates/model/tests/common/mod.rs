//! Helpers shared by the model crate's integration tests (each test binary uses some of them).
#![allow(dead_code)]

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Distribution, Tensor};

/// The plain CPU backend of the tests.
pub type B = burn::backend::Flex;
/// The same under autodiff.
pub type AD = burn::backend::Autodiff<B>;

/// A tensor's values as `f32`.
pub fn vals<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

/// Every float parameter redrawn from N(0, 0.3²), so that biases, LayerNorm affine terms and scalars matter.
pub struct Randomise;

impl ModuleMapper<B> for Randomise {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|t| Tensor::random(t.shape(), Distribution::Normal(0.0, 0.3), &t.device()))
    }
}

type Grads = <AD as burn::tensor::backend::AutodiffBackend>::Gradients;

/// Counts the parameters and names those without a nonzero gradient in `grads`.
pub struct GradCheck {
    /// Parameters visited.
    pub total: usize,
    /// Dotted names of those without a nonzero gradient.
    pub missing: Vec<String>,
    path: Vec<String>,
    grads: Grads,
}

impl GradCheck {
    /// A check against `grads`.
    pub fn new(grads: Grads) -> Self {
        Self {
            total: 0,
            missing: Vec::new(),
            path: Vec::new(),
            grads,
        }
    }
}

impl ModuleVisitor<AD> for GradCheck {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_owned());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AD, D>>) {
        self.total += 1;
        let grad = param.grad(&self.grads);
        if !grad.is_some_and(|g| g.abs().sum().into_scalar() > 0.0) {
            self.missing.push(self.path.join("."));
        }
    }
}
