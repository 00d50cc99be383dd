//! Shared helpers of the training tests: a tiny spec on the bundled corpus, a cache shared by the test
//! binaries, the unigram baseline of the data, and weight comparison.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ablate_data::{ReadMode, ShardSet, Split};
use ablate_train::{ProgressMode, RunSpec, TrainOptions};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Tensor, backend::Backend};

pub type Cpu = burn::backend::Flex;
pub type Train = burn::backend::Autodiff<Cpu>;

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Tests that compare runs bit for bit train one at a time: burn 0.21 runs that train concurrently in
/// one process can disturb each other's numbers (see the crate's `rng` module), while one run per process,
/// as the command line runs them, is exact.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Tokenizers and shards are cached here across test binaries (keyed by content, written atomically).
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("ablate-train-cache")
}

pub fn options() -> TrainOptions {
    TrainOptions {
        cache_dir: cache_dir(),
        progress: ProgressMode::Log,
        halt_after_steps: None,
    }
}

/// A tiny DeBERTa (2 layers of width 64, with EMD) on the bundled Austen sample: rows of 32 tokens, a
/// vocabulary of 1000, dropout on.
pub const TINY_SPEC: &str = r#"
steps = 60
batch_size = 32
seed = 3
eval_every = 20
eval_batches = 4
checkpoint_every = 20
log_every = 5

[model]
preset = "deberta"
hidden_size = 64
num_hidden_layers = 2
num_attention_heads = 2
intermediate_size = 128
max_position_embeddings = 64

[data]
max_len = 32

[data.tokenizer]
vocab_size = 1000

[data.split]
valid_fraction = 0.03
test_fraction = 0.1

[optimiser]
lr = 5e-3
betas = [0.9, 0.98]
warmup_steps = 20
"#;

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

/// [`TINY_SPEC`] with the keys of the TOML text `overrides` replaced, as spec text.
pub fn tiny_spec_text(overrides: &str) -> String {
    let mut base: toml::Table = toml::from_str(TINY_SPEC).unwrap();
    merge(&mut base, toml::from_str(overrides).unwrap());
    toml::to_string(&base).unwrap()
}

/// [`TINY_SPEC`] with `overrides`, parsed and validated.
pub fn tiny_spec(overrides: &str) -> RunSpec {
    let spec = RunSpec::from_toml_str(&tiny_spec_text(overrides)).unwrap();
    spec.validate().unwrap();
    spec
}

/// Entropy (nats) of the unigram distribution of the train split's ordinary tokens: the MLM loss of a
/// model that ignores the context.
pub fn unigram_entropy(shards: &ShardSet) -> f64 {
    let reader = shards.reader(Split::Train, ReadMode::Pread).unwrap();
    let mut ids = vec![0u32; reader.len() as usize];
    reader.read(0, &mut ids).unwrap();
    let special = shards.index().special;
    let mut counts: HashMap<u32, u64> = HashMap::new();
    for id in ids.into_iter().filter(|&i| !special.contains(i)) {
        *counts.entry(id).or_default() += 1;
    }
    let total: u64 = counts.values().sum();
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / total as f64;
            -p * p.ln()
        })
        .sum()
}

struct Collect(Vec<Vec<f32>>);

impl<B: Backend> ModuleVisitor<B> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0
            .push(param.val().into_data().to_vec::<f32>().unwrap());
    }
}

/// Every float parameter of `module`, in visiting order.
pub fn weights<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<f32>> {
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

/// Whether two weight lists are equal bit for bit.
pub fn bit_identical(a: &[Vec<f32>], b: &[Vec<f32>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        })
}
