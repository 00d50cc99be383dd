//! Global-norm gradient clipping, as PyTorch's `clip_grad_norm_`: the L2 norm over ALL parameter gradients
//! together, and one common scale `max_norm / (norm + 1e-6)` applied to every gradient when the norm is
//! above `max_norm`. (burn's own `GradientClipping` clips each parameter on its own.)

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};

struct SquaredNorm<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    total: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let s = g.square().sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + s,
                None => s,
            });
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads
                .register::<B::InnerBackend, D>(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// The L2 norm of all gradients of `module`'s parameters in `grads` together (0 when there are none).
pub fn global_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &GradientsParams,
) -> f64 {
    let mut visitor = SquaredNorm::<B> { grads, total: None };
    module.visit(&mut visitor);
    visitor
        .total
        .map_or(0.0, |t| t.into_scalar().elem::<f64>().sqrt())
}

/// Multiplies every gradient of `module`'s parameters by `factor`.
pub fn scale_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    mut grads: GradientsParams,
    factor: f64,
) -> GradientsParams {
    let mut visitor = Scale {
        grads: &mut grads,
        factor,
    };
    module.visit(&mut visitor);
    grads
}

/// Clips the gradients to a global norm of at most `max_norm` (no clipping when `max_norm` is 0) and returns
/// them with the norm measured before clipping.
pub fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: GradientsParams,
    max_norm: f64,
) -> (GradientsParams, f64) {
    let norm = global_grad_norm::<B, M>(module, &grads);
    if max_norm > 0.0 && norm.is_finite() && norm > max_norm {
        let factor = max_norm / (norm + 1e-6);
        (scale_grads::<B, M>(module, grads, factor), norm)
    } else {
        (grads, norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::TensorData;

    type B = Autodiff<Flex>;

    fn grads_of(layer: &Linear<B>, scale: f32) -> GradientsParams {
        let device = Default::default();
        let x =
            Tensor::<B, 2>::from_data(TensorData::new(vec![1.0f32, -2.0, 3.0], [1, 3]), &device);
        let loss = layer.forward(x).sum().mul_scalar(scale);
        GradientsParams::from_grads(loss.backward(), layer)
    }

    fn direct_norm(layer: &Linear<B>, grads: &GradientsParams) -> f64 {
        let w = grads
            .get::<Flex, 2>(layer.weight.id)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let b = grads
            .get::<Flex, 1>(layer.bias.as_ref().unwrap().id)
            .unwrap()
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        w.iter()
            .chain(&b)
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    #[test]
    fn norm_covers_all_parameters_and_clipping_scales_them_together() {
        let device = Default::default();
        let layer: Linear<B> = LinearConfig::new(3, 2).init(&device);
        let grads = grads_of(&layer, 10.0);
        let expected = direct_norm(&layer, &grads);
        // d(sum)/dW = x for each output, d/db = 1: norm = 10 * sqrt(2 * (1 + 4 + 9) + 2)
        assert!((expected - 10.0 * 30f64.sqrt()).abs() < 1e-3, "{expected}");
        let norm = global_grad_norm::<B, _>(&layer, &grads);
        assert!(
            (norm - expected).abs() < 1e-3 * expected,
            "{norm} vs {expected}"
        );

        let (clipped, before) = clip_global_norm::<B, _>(&layer, grads, 1.0);
        assert!((before - expected).abs() < 1e-3 * expected);
        let after = direct_norm(&layer, &clipped);
        assert!((after - 1.0).abs() < 1e-4, "{after}");

        let small = grads_of(&layer, 0.01);
        let small_norm = direct_norm(&layer, &small);
        let (kept, _) = clip_global_norm::<B, _>(&layer, small, 1.0);
        assert!((direct_norm(&layer, &kept) - small_norm).abs() < 1e-9);
    }
}
