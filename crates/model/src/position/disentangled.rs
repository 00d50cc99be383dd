//! DeBERTa's disentangled attention: c2c plus any subset of c2p, p2c and p2p, over one relative table shared
//! by all layers (HF `rel_embeddings`), each layer projecting it with its own (or the content) projections.
//!
//! c2p and p2c are computed the efficient way: one matmul against the `2 span`-row table, then a gather by the
//! relative index, or, when the index is a plain band (queries at `0..n`, nothing clipped or bucketed), a
//! skewed slice of a matmul against only the rows the band touches ([`super::band`]). No `[N, N, d]` tensor
//! is ever built.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use serde::{Deserialize, Serialize};

use super::band;
use super::hooks::{AttentionHooks, Content};
use super::relative::{Positions, deberta_delta};
use super::{Dims, heads_of, linear};
use crate::dropout::Dropout;
use crate::error::ConfigError;
use crate::norm::LayerNorm;

/// One disentangled score term besides c2c.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PosAttType {
    /// Content query against relative-position key: `Qc_i . Kr[delta(i, j)]`.
    C2p,
    /// Relative-position query against content key: `Kc_j . Qr[delta]`.
    P2c,
    /// Position against position: `Qr[delta] . Kr[delta]` (dropped by the paper; kept as an option).
    P2p,
}

/// Which relative index the p2c term uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum P2cIndex {
    /// `delta(i, j)`, the same index as c2p: the official code and HF (needed for checkpoint parity).
    #[default]
    Code,
    /// `delta(j, i)`, as the paper's text writes it.
    Paper,
}

/// The `deberta` scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisentangledConfig {
    /// Score terms besides c2c (HF `pos_att_type`).
    pub pos_att_type: Vec<PosAttType>,
    /// The relative span k: distances are clipped to `(-k, k)`; the table has `2k` rows unless bucketed.
    pub max_relative_positions: usize,
    /// Log buckets (0 = none): the table then has `2 * position_buckets` rows.
    pub position_buckets: usize,
    /// Project the relative table with the content query/key projections (DeBERTa-v3).
    pub share_att_key: bool,
    /// LayerNorm the relative table before use (HF `norm_rel_ebd = "layer_norm"`).
    pub norm_rel_ebd: bool,
    /// Index convention of p2c.
    pub p2c_index: P2cIndex,
}

impl Default for DisentangledConfig {
    fn default() -> Self {
        Self {
            pos_att_type: vec![PosAttType::C2p, PosAttType::P2c],
            max_relative_positions: 128,
            position_buckets: 0,
            share_att_key: false,
            norm_rel_ebd: false,
            p2c_index: P2cIndex::Code,
        }
    }
}

impl DisentangledConfig {
    /// Whether `term` is enabled.
    pub fn has(&self, term: PosAttType) -> bool {
        self.pos_att_type.contains(&term)
    }

    /// Rows of one side of the table: `position_buckets` when bucketed, else `max_relative_positions`.
    pub fn att_span(&self) -> usize {
        if self.position_buckets > 0 {
            self.position_buckets
        } else {
            self.max_relative_positions
        }
    }

    /// Checks ranges and duplicates.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_relative_positions < 1 {
            return Err(ConfigError::new(
                "position.max_relative_positions",
                "must be at least 1",
            ));
        }
        for (i, t) in self.pos_att_type.iter().enumerate() {
            if self.pos_att_type[..i].contains(t) {
                return Err(ConfigError::new(
                    "position.pos_att_type",
                    format!("{t:?} is listed twice"),
                ));
            }
        }
        if self.position_buckets > 0
            && (self.position_buckets < 4
                || self.position_buckets / 2 + 1 >= self.max_relative_positions)
        {
            return Err(ConfigError::new(
                "position.position_buckets",
                format!(
                    "{} needs to be at least 4 and position_buckets / 2 + 1 below max_relative_positions = {} \
                     (set position_buckets = 0 for plain clipping)",
                    self.position_buckets, self.max_relative_positions
                ),
            ));
        }
        Ok(())
    }

    /// The table row of the pair (query position, key position).
    pub fn delta(&self, query: i64, key: i64) -> i64 {
        deberta_delta(
            query,
            key,
            self.att_span(),
            self.position_buckets,
            self.max_relative_positions,
        )
    }
}

/// The relative table shared by all layers (HF `encoder.rel_embeddings` and `encoder.LayerNorm`).
#[derive(Module, Debug)]
pub struct RelEmbeddings<B: Backend> {
    /// `[2 span, hidden]`.
    pub rel_embeddings: Embedding<B>,
    /// Present with `norm_rel_ebd`.
    pub layer_norm: Option<LayerNorm<B>>,
}

impl<B: Backend> RelEmbeddings<B> {
    /// Builds the table for `cfg` (normal, standard deviation `dims.init_std`, as HF initialises every
    /// embedding).
    pub fn init(dims: &Dims, cfg: &DisentangledConfig, device: &B::Device) -> Self {
        Self {
            rel_embeddings: EmbeddingConfig::new(2 * cfg.att_span(), dims.hidden)
                .with_initializer(super::normal_init(dims.init_std))
                .init(device),
            layer_norm: cfg
                .norm_rel_ebd
                .then(|| LayerNorm::new(dims.hidden, dims.layer_norm_eps, device)),
        }
    }

    /// The table as the layers see it (after the optional LayerNorm).
    pub fn table(&self) -> Tensor<B, 2> {
        let t = self.rel_embeddings.weight.val();
        match &self.layer_norm {
            Some(ln) => ln.forward(t),
            None => t,
        }
    }
}

/// Per-layer parameters of the scheme (HF `pos_key_proj`, `pos_query_proj`), absent with `share_att_key`.
#[derive(Module, Debug)]
pub struct DisentangledTerms<B: Backend> {
    /// Projects the table to relative keys (c2p, p2p).
    pub pos_key_proj: Option<Linear<B>>,
    /// Projects the table to relative queries (p2c, p2p).
    pub pos_query_proj: Option<Linear<B>>,
    /// Dropout on the relative table (HF `pos_dropout`).
    pub pos_dropout: Dropout,
}

/// What the disentangled terms need at forward time, built once per pass.
#[derive(Debug, Clone)]
pub struct DisentangledInputs<B: Backend> {
    /// The scheme's config (which terms, which p2c index).
    pub cfg: DisentangledConfig,
    /// The shared table, `[2 span, hidden]`.
    pub table: Tensor<B, 2>,
    /// `[rows, 1, Nq, Nk]`: table row of c2p (and of p2p).
    pub c2p_index: Tensor<B, 4, Int>,
    /// `[rows, 1, Nk, Nq]`: table row of p2c, laid out for the transposed gather.
    pub p2c_index: Tensor<B, 4, Int>,
    /// The table rows of the c2p band, when its index is one ([`band::band_rows`]).
    pub c2p_band: Option<Tensor<B, 1, Int>>,
    /// The table rows of the p2c band (transposed layout), when its index is one.
    pub p2c_band: Option<Tensor<B, 1, Int>>,
}

impl<B: Backend> DisentangledInputs<B> {
    /// Builds the indices for `positions`.
    pub fn new(cfg: &DisentangledConfig, table: Tensor<B, 2>, positions: &Positions) -> Self {
        let device = table.device();
        let (rows, nq, nk) = (
            positions.query.index_rows(),
            positions.query.len(),
            positions.key_len,
        );
        let c2p = positions.values(|q, k| cfg.delta(q, k));
        let p2c = match cfg.p2c_index {
            P2cIndex::Code => positions.values_transposed(|q, k| cfg.delta(q, k)),
            P2cIndex::Paper => positions.values_transposed(|q, k| cfg.delta(k, q)),
        };
        let band_of = |values: &[i64], n_rows, n_cols| {
            (rows == 1)
                .then(|| band::band_rows(values, n_rows, n_cols))
                .flatten()
                .map(|r| band::rows_tensor(r, &device))
        };
        let c2p_band = band_of(&c2p, nq, nk);
        let p2c_band = band_of(&p2c, nk, nq);
        Self {
            cfg: cfg.clone(),
            table,
            c2p_index: Tensor::from_data(TensorData::new(c2p, [rows, 1, nq, nk]), &device),
            p2c_index: Tensor::from_data(TensorData::new(p2c, [rows, 1, nk, nq]), &device),
            c2p_band,
            p2c_band,
        }
    }
}

impl<B: Backend> DisentangledTerms<B> {
    /// Builds the projections the enabled terms need.
    pub fn init(dims: &Dims, cfg: &DisentangledConfig, device: &B::Device) -> Self {
        let all_head = dims.all_heads();
        let own = !cfg.share_att_key;
        let needs_key = cfg.has(PosAttType::C2p) || cfg.has(PosAttType::P2p);
        let needs_query = cfg.has(PosAttType::P2c) || cfg.has(PosAttType::P2p);
        Self {
            pos_key_proj: (own && needs_key)
                .then(|| linear(dims.hidden, all_head, true, dims.init_std, device)),
            pos_query_proj: (own && needs_query)
                .then(|| linear(dims.hidden, all_head, true, dims.init_std, device)),
            pos_dropout: Dropout::new(dims.dropout),
        }
    }

    /// The sum of the enabled terms, `[B, H, Nq, Nk]`, unscaled. `q`: `[B, H, Nq, d]`, `k`: `[B, H, Nk, d]`;
    /// `query_proj`/`key_proj` are the layer's content projections (used with `share_att_key`).
    pub fn score_terms(
        &self,
        cfg: &DisentangledConfig,
        q: &Tensor<B, 4>,
        k: &Tensor<B, 4>,
        inputs: &DisentangledInputs<B>,
        query_proj: &Linear<B>,
        key_proj: &Linear<B>,
    ) -> Option<Tensor<B, 4>> {
        let [b, h, nq, _] = q.dims();
        let nk = k.dims()[2];
        let table = self.pos_dropout.forward(inputs.table.clone());
        let project = |own: &Option<Linear<B>>, shared: &Linear<B>| {
            heads_of(own.as_ref().unwrap_or(shared).forward(table.clone()), h)
        };
        let pos_key = (cfg.has(PosAttType::C2p) || cfg.has(PosAttType::P2p))
            .then(|| project(&self.pos_key_proj, key_proj));
        let pos_query = (cfg.has(PosAttType::P2c) || cfg.has(PosAttType::P2p))
            .then(|| project(&self.pos_query_proj, query_proj));
        let rows = pos_key.as_ref().or(pos_query.as_ref())?.dims()[2];

        let mut score: Option<Tensor<B, 4>> = None;
        let mut add = |t: Tensor<B, 4>| {
            score = Some(match score.take() {
                Some(s) => s + t,
                None => t,
            })
        };
        if cfg.has(PosAttType::C2p) {
            let pk = pos_key.clone().expect("c2p has a key projection");
            add(against_table(q, pk, &inputs.c2p_band, &inputs.c2p_index));
        }
        if cfg.has(PosAttType::P2c) {
            let pq = pos_query.clone().expect("p2c has a query projection");
            add(against_table(k, pq, &inputs.p2c_band, &inputs.p2c_index).swap_dims(2, 3));
        }
        if cfg.has(PosAttType::P2p) {
            let (pq, pk) = (pos_query.expect("p2p"), pos_key.expect("p2p"));
            let pp = (pq * pk).sum_dim(3).swap_dims(2, 3); // [1, H, 1, 2span]
            let pp = pp.expand([b, h, nq, rows]);
            add(pp.gather(3, inputs.c2p_index.clone().expand([b, h, nq, nk])));
        }
        score
    }
}

/// DeBERTa's scheme as one layer sees it: c2p, p2c (and p2p) before the scale (hook 2).
#[derive(Debug)]
pub struct DisentangledAt<'a, B: Backend> {
    /// The layer's position projections.
    pub terms: &'a DisentangledTerms<B>,
    /// The config, table and indices of this forward pass.
    pub inputs: &'a DisentangledInputs<B>,
    /// The layer's content projections (used with `share_att_key`).
    pub content: Content<'a, B>,
}

impl<B: Backend> AttentionHooks<B> for DisentangledAt<'_, B> {
    fn transform(&self, q: Tensor<B, 4>, k: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        (q, k)
    }

    fn score_terms(&self, q: &Tensor<B, 4>, k: &Tensor<B, 4>) -> Option<Tensor<B, 4>> {
        let c = self.content;
        self.terms.score_terms(
            &self.inputs.cfg,
            q,
            k,
            self.inputs,
            c.query_proj,
            c.key_proj,
        )
    }

    fn scaled_bias(&self) -> Option<Tensor<B, 4>> {
        None
    }

    fn value_term(&self, _probs: &Tensor<B, 4>) -> Option<Tensor<B, 4>> {
        None
    }
}

/// `x` `[B, H, Nr, d]` against the projected table `[1, H, 2 span, d]`, read at `index` `[rows, 1, Nr, Nc]`:
/// `[B, H, Nr, Nc]`. With `band` (the table rows of a band index), a skewed slice of a matmul against those rows
/// only; otherwise the full matmul and a gather.
fn against_table<B: Backend>(
    x: &Tensor<B, 4>,
    table: Tensor<B, 4>,
    band: &Option<Tensor<B, 1, Int>>,
    index: &Tensor<B, 4, Int>,
) -> Tensor<B, 4> {
    let [b, h, n_rows, _] = x.dims();
    let n_cols = index.dims()[3];
    match band {
        Some(window) => {
            let table = table.select(2, window.clone()); // [1, H, Nr + Nc - 1, d]
            band::skew(x.clone().matmul(table.swap_dims(2, 3)), n_rows, n_cols)
        }
        None => x
            .clone()
            .matmul(table.swap_dims(2, 3)) // [B, H, Nr, 2 span]
            .gather(3, index.clone().expand([b, h, n_rows, n_cols])),
    }
}
