//! Relative positions: who is where, distances, DeBERTa's log buckets, and the integer index tensors
//! that the schemes gather with.
//!
//! Everything here is integer arithmetic on the host, done once per forward pass and shared by all layers.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// Absolute positions of the queries: all of `0..n`, or a subset per batch row (the Enhanced Mask Decoder
/// decodes masked positions only).
#[derive(Debug, Clone, PartialEq)]
pub enum QueryPositions {
    /// Queries at `0..n`, the same for every row.
    Range(usize),
    /// `rows[b]` lists the query positions of batch row `b`; all rows have the same length.
    PerRow(Vec<Vec<usize>>),
}

impl QueryPositions {
    /// Number of query positions per row.
    pub fn len(&self) -> usize {
        match self {
            Self::Range(n) => *n,
            Self::PerRow(rows) => rows.first().map_or(0, Vec::len),
        }
    }

    /// Whether there are no queries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Batch rows of the index tensors built from these positions: 1 for a shared range.
    pub fn index_rows(&self) -> usize {
        match self {
            Self::Range(_) => 1,
            Self::PerRow(rows) => rows.len(),
        }
    }

    /// The largest query position plus one.
    pub fn extent(&self) -> usize {
        match self {
            Self::Range(n) => *n,
            Self::PerRow(rows) => rows.iter().flatten().map(|p| p + 1).max().unwrap_or(0),
        }
    }

    fn row(&self, b: usize) -> Vec<usize> {
        match self {
            Self::Range(n) => (0..*n).collect(),
            Self::PerRow(rows) => rows[b].clone(),
        }
    }
}

/// Query positions and the number of keys (keys always sit at `0..key_len`).
#[derive(Debug, Clone, PartialEq)]
pub struct Positions {
    /// Where the queries are.
    pub query: QueryPositions,
    /// Number of keys.
    pub key_len: usize,
}

impl Positions {
    /// Plain self-attention over `n` tokens.
    pub fn square(n: usize) -> Self {
        Self {
            query: QueryPositions::Range(n),
            key_len: n,
        }
    }

    /// `f(query_pos, key_pos)` over `[rows, n_query, n_key]`, row-major.
    pub fn values(&self, f: impl Fn(i64, i64) -> i64) -> Vec<i64> {
        let (rows, nq, nk) = (self.query.index_rows(), self.query.len(), self.key_len);
        let mut out = Vec::with_capacity(rows * nq * nk);
        for b in 0..rows {
            for q in self.query.row(b) {
                out.extend((0..nk).map(|k| f(q as i64, k as i64)));
            }
        }
        out
    }

    /// `f(query_pos, key_pos)` over `[rows, n_key, n_query]`, row-major: the transposed layout the p2c
    /// gather needs.
    pub fn values_transposed(&self, f: impl Fn(i64, i64) -> i64) -> Vec<i64> {
        let (rows, nq, nk) = (self.query.index_rows(), self.query.len(), self.key_len);
        let mut out = vec![0i64; rows * nq * nk];
        for b in 0..rows {
            for (i, q) in self.query.row(b).into_iter().enumerate() {
                for k in 0..nk {
                    out[(b * nk + k) * nq + i] = f(q as i64, k as i64);
                }
            }
        }
        out
    }

    /// Builds `[rows, 1, n_query, n_key]` with `f(query_pos, key_pos)` at `[b, 0, i, j]`.
    pub fn index<B: Backend>(
        &self,
        device: &B::Device,
        f: impl Fn(i64, i64) -> i64,
    ) -> Tensor<B, 4, Int> {
        let shape = [self.query.index_rows(), 1, self.query.len(), self.key_len];
        Tensor::from_data(TensorData::new(self.values(f), shape), device)
    }
}

/// DeBERTa's log-bucketed relative position (HF `make_log_bucket_position`): distances up to `bucket_size / 2`
/// are kept; longer ones are compressed logarithmically so that `max_position - 1` maps to `bucket_size - 1`.
/// Computed in f32, as the reference implementation does, so the same buckets come out.
pub fn log_bucket(relative: i64, bucket_size: usize, max_position: usize) -> i64 {
    let mid = (bucket_size / 2) as i64;
    let abs = if relative < mid && relative > -mid {
        mid - 1
    } else {
        relative.abs()
    };
    if abs <= mid {
        return relative;
    }
    let ratio = (abs as f32 / mid as f32).ln() / ((max_position as f32 - 1.0) / mid as f32).ln();
    let log_pos = (ratio * (mid - 1) as f32).ceil() as i64 + mid;
    log_pos * relative.signum()
}

/// The relative distance `query - key`, log-bucketed when `position_buckets > 0`.
pub fn bucketed_distance(
    query: i64,
    key: i64,
    position_buckets: usize,
    max_relative_positions: usize,
) -> i64 {
    let r = query - key;
    if position_buckets > 0 {
        log_bucket(r, position_buckets, max_relative_positions)
    } else {
        r
    }
}

/// DeBERTa's table row `delta`: the (bucketed) distance shifted by the span and clamped to `[0, 2 span)`.
pub fn deberta_delta(
    query: i64,
    key: i64,
    span: usize,
    position_buckets: usize,
    max_relative_positions: usize,
) -> i64 {
    let r = bucketed_distance(query, key, position_buckets, max_relative_positions);
    (r + span as i64).clamp(0, 2 * span as i64 - 1)
}

/// Shaw et al.'s table row: `clip(key - query, -k, k) + k`, in `[0, 2k]`.
pub fn shaw_index(query: i64, key: i64, k: usize) -> i64 {
    let k = k as i64;
    (key - query).clamp(-k, k) + k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deberta_delta_matches_hand_checked_matrix() {
        // span 2, no buckets: r = i - j clamped into [0, 4) after shifting by 2.
        let got: Vec<Vec<i64>> = (0..4)
            .map(|i| (0..4).map(|j| deberta_delta(i, j, 2, 0, 2)).collect())
            .collect();
        let want = vec![
            vec![2, 1, 0, 0],
            vec![3, 2, 1, 0],
            vec![3, 3, 2, 1],
            vec![3, 3, 3, 2],
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn shaw_index_matches_hand_checked_matrix() {
        let got: Vec<Vec<i64>> = (0..4)
            .map(|i| (0..4).map(|j| shaw_index(i, j, 1)).collect())
            .collect();
        let want = vec![
            vec![1, 2, 2, 2],
            vec![0, 1, 2, 2],
            vec![0, 0, 1, 2],
            vec![0, 0, 0, 1],
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn log_buckets_match_hand_computed_values() {
        // bucket_size 8 (mid 4), max_position 64: |r| <= 4 kept; beyond, mid + ceil(log(|r|/4)/log(63/4) * 3).
        let hand = |r: i64| -> i64 {
            let a = r.abs() as f64;
            let v = 4.0 + ((a / 4.0).ln() / (63.0f64 / 4.0).ln() * 3.0).ceil();
            v as i64 * r.signum()
        };
        for r in -4..=4 {
            assert_eq!(log_bucket(r, 8, 64), r, "r = {r}");
        }
        assert_eq!(log_bucket(5, 8, 64), 5);
        assert_eq!(log_bucket(-5, 8, 64), -5);
        assert_eq!(log_bucket(63, 8, 64), 7);
        assert_eq!(log_bucket(-63, 8, 64), -7);
        for r in [6i64, 10, 17, 30, -9, -40] {
            assert_eq!(log_bucket(r, 8, 64), hand(r), "r = {r}");
        }
        // Monotone in |r| and never beyond the last bucket inside the range.
        let mut last = 0;
        for r in 0..64 {
            let b = log_bucket(r, 8, 64);
            assert!(b >= last && b <= 7, "r = {r}: {b}");
            last = b;
        }
    }

    #[test]
    fn transposed_index_is_the_transpose() {
        type B = burn::backend::Flex;
        let dev = Default::default();
        let pos = Positions {
            query: QueryPositions::PerRow(vec![vec![1, 3], vec![0, 2]]),
            key_len: 4,
        };
        let f = |q: i64, k: i64| q * 10 + k;
        let a = pos.index::<B>(&dev, f);
        let t = Tensor::<B, 4, Int>::from_data(
            TensorData::new(pos.values_transposed(f), [2, 1, 4, 2]),
            &dev,
        );
        assert_eq!(a.dims(), [2, 1, 2, 4]);
        assert_eq!(t.swap_dims(2, 3).into_data(), a.clone().into_data());
        let v: Vec<i64> = a.into_data().convert::<i64>().to_vec().unwrap();
        assert_eq!(&v[..4], &[10, 11, 12, 13]);
        assert_eq!(&v[8..12], &[0, 1, 2, 3]);
    }
}
