//! Losses and counts: masked-LM cross-entropy over the real masked positions only, classification
//! cross-entropy, and SiFT's symmetric KL. Log-probabilities are computed with a max-subtracted
//! log-softmax in the tensors' float type (fp32 on every backend the lab uses).

use burn::tensor::activation::log_softmax;
use burn::tensor::{ElementConversion, Int, Tensor, backend::Backend};

/// Reads a one-element tensor as `f64`.
pub fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_scalar().elem::<f64>()
}

/// Summed negative log-likelihood of `targets` `[B, M]` under `logits` `[B, M, V]`, counting only positions
/// with weight 1 (`weights` `[B, M]` is 0 at padding).
pub fn masked_nll_sum<B: Backend>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
    weights: Tensor<B, 2>,
) -> Tensor<B, 1> {
    let [b, m, _] = logits.dims();
    let logp = log_softmax(logits, 2);
    let picked = logp.gather(2, targets.reshape([b, m, 1])).reshape([b, m]);
    (picked * weights).sum().neg()
}

/// Number of weighted positions whose arg-max prediction equals the target.
pub fn masked_correct<B: Backend>(
    logits: &Tensor<B, 3>,
    targets: &Tensor<B, 2, Int>,
    weights: &Tensor<B, 2>,
) -> f64 {
    let [b, m, _] = logits.dims();
    let predicted = logits.clone().argmax(2).reshape([b, m]);
    let hits = predicted.equal(targets.clone()).float() * weights.clone();
    scalar(hits.sum())
}

/// Mean cross-entropy of `labels` `[B]` under `logits` `[B, C]`.
pub fn cross_entropy_mean<B: Backend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
) -> Tensor<B, 1> {
    let [b, _] = logits.dims();
    let logp = log_softmax(logits, 1);
    logp.gather(1, labels.reshape([b, 1])).mean().neg()
}

/// Symmetric KL between the predictions of `p_logits` and `q_logits` `[B, C]`, one value per row `[B]`, in
/// the official DeBERTa code's form: `sum(p̄ · -log q) + sum(q̄ · -log p)` with the probabilities p̄, q̄
/// detached, minus their (constant) entropies so that the value is KL(p‖q) + KL(q‖p); the gradients are the
/// official ones.
pub fn symmetric_kl_rows<B: Backend>(
    p_logits: Tensor<B, 2>,
    q_logits: Tensor<B, 2>,
) -> Tensor<B, 1> {
    let logp = log_softmax(p_logits, 1);
    let logq = log_softmax(q_logits, 1);
    let (lp, lq) = (logp.clone().detach(), logq.clone().detach());
    let (p, q) = (lp.clone().exp(), lq.clone().exp());
    let forward = (p.clone() * (lp - logq)).sum_dim(1);
    let backward = (q.clone() * (lq - logp)).sum_dim(1);
    let rows = forward.dims()[0];
    (forward + backward).reshape([rows])
}

/// [`symmetric_kl_rows`] averaged over rows.
pub fn symmetric_kl<B: Backend>(p_logits: Tensor<B, 2>, q_logits: Tensor<B, 2>) -> Tensor<B, 1> {
    symmetric_kl_rows(p_logits, q_logits).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    type B = Flex;

    #[test]
    fn masked_nll_ignores_padding_and_matches_a_hand_computation() {
        let device = Default::default();
        // one row, two slots; the second is padding with a huge wrong logit that must not count
        let logits = Tensor::<B, 3>::from_data(
            TensorData::new(vec![0.0f32, (2.0f32).ln(), 100.0, 0.0], [1, 2, 2]),
            &device,
        );
        let targets =
            Tensor::<B, 2, Int>::from_data(TensorData::new(vec![1i64, 1], [1, 2]), &device);
        let weights =
            Tensor::<B, 2>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 2]), &device);
        let nll = scalar(masked_nll_sum(
            logits.clone(),
            targets.clone(),
            weights.clone(),
        ));
        // p(1) = 2 / 3
        assert!((nll - (1.5f64).ln()).abs() < 1e-5, "{nll}");
        assert_eq!(masked_correct(&logits, &targets, &weights), 1.0);
    }

    #[test]
    fn symmetric_kl_is_zero_for_equal_and_positive_for_different_predictions() {
        let device = Default::default();
        let a = Tensor::<B, 2>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 0.5, 0.5], [2, 2]),
            &device,
        );
        let b = Tensor::<B, 2>::from_data(
            TensorData::new(vec![2.0f32, 1.0, 0.5, 0.5], [2, 2]),
            &device,
        );
        assert!(scalar(symmetric_kl(a.clone(), a.clone())).abs() < 1e-6);
        let kl = scalar(symmetric_kl(a, b));
        // row 1: p = softmax(1, 2), q = softmax(2, 1): sum (p - q)(log p - log q) = 2 * (2s - 1) * 1, row 2: 0
        let s = 1.0 / (1.0 + (-1.0f64).exp());
        let expected = (2.0 * (2.0 * s - 1.0)) / 2.0;
        assert!((kl - expected).abs() < 1e-5, "{kl} vs {expected}");
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_log_classes() {
        let device = Default::default();
        let logits = Tensor::<B, 2>::zeros([3, 4], &device);
        let labels =
            Tensor::<B, 1, Int>::from_data(TensorData::new(vec![0i64, 1, 3], [3]), &device);
        let ce = scalar(cross_entropy_mean(logits, labels));
        assert!((ce - 4f64.ln()).abs() < 1e-6);
    }
}
