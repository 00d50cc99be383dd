//! Absolute positions added at the input (BERT): a learned table or a fixed sinusoid.

use burn::tensor::{Tensor, TensorData, backend::Backend};
use serde::{Deserialize, Serialize};

/// How absolute positions are embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AbsoluteEmbedding {
    /// A learned table of `max_position_embeddings` rows (BERT, HF `position_embeddings`).
    #[default]
    Learned,
    /// The fixed sinusoid of Vaswani et al.; no parameters, defined at any length.
    Sinusoidal,
}

/// The `absolute` scheme: positions enter only at the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AbsoluteConfig {
    /// Learned or sinusoidal.
    pub embedding: AbsoluteEmbedding,
}

/// The sinusoid table for positions `positions` (any integers, negative ones too), `[len, width]`:
/// column `2i` holds `sin(p / 10000^(2i/width))`, column `2i + 1` the cosine (interleaved, as Vaswani et al.).
pub fn sinusoid_table<B: Backend>(
    positions: impl Iterator<Item = i64>,
    width: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    let mut data = Vec::new();
    let mut rows = 0;
    for p in positions {
        rows += 1;
        for c in 0..width {
            let freq = 1.0 / 10000f64.powf((c / 2 * 2) as f64 / width as f64);
            let angle = p as f64 * freq;
            data.push(if c % 2 == 0 { angle.sin() } else { angle.cos() } as f32);
        }
    }
    Tensor::from_data(TensorData::new(data, [rows, width]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    type B = burn::backend::Flex;

    #[test]
    fn sinusoid_rows_follow_the_formula() {
        let t = sinusoid_table::<B>([0i64, 3, -2].into_iter(), 4, &Default::default());
        let v: Vec<f32> = t.into_data().to_vec().unwrap();
        assert_eq!(&v[..4], &[0.0, 1.0, 0.0, 1.0]);
        let f1 = 1.0 / 100f64; // 10000^(2/4)
        let want = [3f64.sin(), 3f64.cos(), (3.0 * f1).sin(), (3.0 * f1).cos()];
        for (g, w) in v[4..8].iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-6);
        }
        assert!((v[8] as f64 - (-2f64).sin()).abs() < 1e-6);
    }
}
