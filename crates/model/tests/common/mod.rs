//! Helpers shared by the model crate's integration tests (each test binary uses some of them).
#![allow(dead_code)]

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

/// The plain CPU backend of the tests.
pub type B = burn::backend::Flex;
/// The same under autodiff.
pub type AD = burn::backend::Autodiff<B>;

/// A tensor's values as `f32`.
pub fn vals<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

/// Every float parameter redrawn from N(0, 0.3²), so that biases, LayerNorm affine terms and scalars matter.
/// The draws come from a fixed counter-based stream (not the backend's shared generator, which tests running in
/// parallel advance in any order), so every run builds the same model.
#[derive(Default)]
pub struct Randomise {
    drawn: u64,
}

impl Randomise {
    fn uniform(&mut self) -> f64 {
        self.drawn += 1;
        let mut z = self.drawn.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal value (Box-Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }
}

impl ModuleMapper<B> for Randomise {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.map(|t| {
            let shape = t.shape();
            let values: Vec<f32> = (0..shape.num_elements())
                .map(|_| 0.3 * self.normal())
                .collect();
            Tensor::from_data(TensorData::new(values, shape), &t.device())
        })
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
