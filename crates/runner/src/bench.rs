//! `ablate bench`: times real training (or inference) steps of the lab's own model (random init, AdamW, MLM
//! loss on 15% masked positions) and writes the same field names as the PyTorch reference benchmark
//! (`tokens_per_s_median`, `step_s_median`, `peak_rss_mib`, `params_total`, `flops_per_token`,
//! `achieved_gflops`), so the two compare line for line. `--matmul N` adds the backend's float32 GFLOP/s.

use std::path::PathBuf;
use std::time::Instant;

use ablate_model::position::PositionScheme;
use ablate_model::{EncoderInput, MaskedPositions, MlmModel, ModelConfig, Preset};
use anyhow::Context;
use burn::module::{AutodiffModule, Module};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, ElementConversion, Int, Tensor, TensorData};
use clap::{Args, ValueEnum};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::device::DeviceChoice;

/// Arguments of `ablate bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Model preset (bert, deberta-no-emd, deberta-v3, ...).
    #[arg(long, default_value = "deberta-no-emd")]
    pub preset: String,
    /// Sequence length L.
    #[arg(long, default_value_t = 128)]
    pub seq_len: usize,
    /// Batch size B.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Hidden size.
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    /// Encoder layers.
    #[arg(long, default_value_t = 4)]
    pub layers: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Feed-forward width.
    #[arg(long, default_value_t = 1024)]
    pub intermediate: usize,
    /// Vocabulary size.
    #[arg(long, default_value_t = 8192)]
    pub vocab: usize,
    /// Relative span (DeBERTa `max_relative_positions` without buckets, Shaw's clip); presets with buckets
    /// keep theirs.
    #[arg(long, default_value_t = 128)]
    pub rel_span: usize,
    /// Train steps (forward, backward, AdamW) or forward only.
    #[arg(long, value_enum, default_value_t = Mode::Train)]
    pub mode: Mode,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Timed steps.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Also time an N x N x N float32 matmul (GFLOP/s).
    #[arg(long)]
    pub matmul: Option<usize>,
    /// Write the figures here as JSON (also printed).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// What `ablate bench` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Forward, backward and an AdamW step.
    Train,
    /// Forward only.
    Infer,
}

/// Runs `ablate bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.seq_len == 0 || args.batch == 0 || args.steps == 0 {
        anyhow::bail!("--seq-len, --batch and --steps must be at least 1");
    }
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot set the thread count")?;
    }
    let cfg = bench_config(&args)?;
    let mut report = crate::with_backend!(args.device, |B, device| bench::<
        burn::backend::Autodiff<B>,
    >(&args, &cfg, &device))?;
    if let Some(n) = args.matmul {
        let g = crate::with_backend!(args.device, |B, device| Ok::<_, anyhow::Error>(
            matmul_gflops::<B>(n, &device)
        ))?;
        report["matmul"] = json!({"n": n, "gflops_median": g});
    }
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(path) = &args.json {
        ablate_data::write_bytes(path, text.as_bytes())?;
    }
    Ok(())
}

fn bench_config(args: &BenchArgs) -> anyhow::Result<ModelConfig> {
    let mut cfg = Preset::parse(&args.preset)?.config();
    cfg.vocab_size = args.vocab;
    cfg.hidden_size = args.hidden;
    cfg.num_hidden_layers = args.layers;
    cfg.num_attention_heads = args.heads;
    cfg.intermediate_size = args.intermediate;
    cfg.max_position_embeddings = cfg.max_position_embeddings.max(args.seq_len);
    match &mut cfg.position {
        PositionScheme::Deberta(d) if d.position_buckets == 0 => {
            d.max_relative_positions = args.rel_span
        }
        PositionScheme::Shaw(s) => s.max_relative_position = args.rel_span,
        // bucketed or unbounded: no span to set
        PositionScheme::Deberta(_)
        | PositionScheme::Absolute(_)
        | PositionScheme::Xl(_)
        | PositionScheme::Alibi(_)
        | PositionScheme::Rope(_)
        | PositionScheme::T5(_)
        | PositionScheme::Fire(_)
        | PositionScheme::Nope => {}
    }
    cfg.validate()?;
    Ok(cfg)
}

/// The reference's analytic forward FLOPs per token (multiply-add = 2; logits for every position).
fn flops_per_token(cfg: &ModelConfig, seq: usize, batch: usize) -> f64 {
    let (h, l, v, i, nl) = (
        cfg.hidden_size as f64,
        seq as f64,
        cfg.vocab_size as f64,
        cfg.intermediate_size as f64,
        cfg.num_hidden_layers as f64,
    );
    let lin = 2.0 * (nl * (4.0 * h * h + 2.0 * h * i) + h * h + v * h);
    let attn = nl * 4.0 * l * h;
    let rel = match &cfg.position {
        PositionScheme::Deberta(d) => {
            let span = d.att_span() as f64;
            let nterms = d.pos_att_type.len() as f64;
            let nproj = if d.share_att_key { 2.0 } else { nterms };
            nl * nterms * 2.0 * (2.0 * span) * h
                + nl * nproj * 2.0 * (2.0 * span) * h * h / (batch as f64 * l)
        }
        // the other schemes' position work is not counted, as in the reference
        PositionScheme::Absolute(_)
        | PositionScheme::Shaw(_)
        | PositionScheme::Xl(_)
        | PositionScheme::Alibi(_)
        | PositionScheme::Rope(_)
        | PositionScheme::T5(_)
        | PositionScheme::Fire(_)
        | PositionScheme::Nope => 0.0,
    };
    lin + attn + rel
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn bench<B: AutodiffBackend>(
    args: &BenchArgs,
    cfg: &ModelConfig,
    device: &B::Device,
) -> anyhow::Result<serde_json::Value> {
    B::seed(device, 0);
    let mut model = MlmModel::<B>::new(cfg, device)?;
    let params = model.num_params();
    let (b, l) = (args.batch, args.seq_len);
    let m = ((l as f64 * 0.15).round() as usize).max(1);
    let mut rng = StdRng::seed_from_u64(1);
    let batches: Vec<(Vec<i64>, MaskedPositions, Vec<i64>)> = (0..8)
        .map(|_| {
            let ids: Vec<i64> = (0..b * l)
                .map(|_| rng.random_range(0..cfg.vocab_size as i64))
                .collect();
            let rows: Vec<Vec<usize>> = (0..b).map(|_| sample(&mut rng, l, m).into_vec()).collect();
            let labels = rows
                .iter()
                .enumerate()
                .flat_map(|(r, row)| row.iter().map(|&p| ids[r * l + p]).collect::<Vec<_>>())
                .collect();
            (ids, MaskedPositions::new(rows).expect("equal rows"), labels)
        })
        .collect();
    let mut optim = AdamWConfig::new()
        .with_epsilon(1e-6)
        .with_weight_decay(0.01)
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut times = Vec::new();
    let mut last_loss = f64::NAN;
    for step in 0..args.warmup + args.steps {
        let (ids, masked, labels) = &batches[step % batches.len()];
        let t0 = Instant::now();
        let input = Tensor::<B, 2, Int>::from_data(TensorData::new(ids.clone(), [b, l]), device);
        match args.mode {
            Mode::Train => {
                let out = model.forward(&EncoderInput::unmasked(input), masked, false);
                let targets = Tensor::<B, 1, Int>::from_data(
                    TensorData::new(labels.clone(), [b * m]),
                    device,
                );
                let loss = loss_fn.forward(out.logits.reshape([b * m, cfg.vocab_size]), targets);
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-4, model, grads);
                last_loss = loss.into_scalar().elem::<f64>();
            }
            Mode::Infer => {
                let valid = model.valid();
                let input = Tensor::<B::InnerBackend, 2, Int>::from_data(
                    TensorData::new(ids.clone(), [b, l]),
                    device,
                );
                let all = MaskedPositions::new(vec![(0..l).collect(); b]).expect("equal rows");
                let out = valid.forward(&EncoderInput::unmasked(input), &all, false);
                let _ = out.logits.sum().into_scalar().elem::<f32>();
            }
        }
        if step >= args.warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let med = median(times.clone());
    let tokens = (b * l) as f64;
    let fwd = flops_per_token(cfg, l, b);
    let per_tok = if args.mode == Mode::Train {
        3.0 * fwd
    } else {
        fwd
    };
    let tps = tokens / med;
    Ok(json!({
        "preset": args.preset, "mode": format!("{:?}", args.mode).to_lowercase(), "seq": l, "batch": b,
        "hidden": cfg.hidden_size, "layers": cfg.num_hidden_layers, "heads": cfg.num_attention_heads,
        "intermediate": cfg.intermediate_size, "vocab": cfg.vocab_size, "device": args.device.to_string(),
        "threads": args.threads.unwrap_or_else(rayon::current_num_threads),
        "tokens_per_s_median": tps,
        "tokens_per_s_best": tokens / times.iter().cloned().fold(f64::INFINITY, f64::min),
        "step_s_median": med,
        "step_s_min": times.iter().cloned().fold(f64::INFINITY, f64::min),
        "step_s_max": times.iter().cloned().fold(0.0, f64::max),
        "flops_per_token": per_tok, "achieved_gflops": per_tok * tps / 1e9,
        "params_total": params, "peak_rss_mib": peak_rss_mib(), "final_loss": last_loss,
        "steps": args.steps, "warmup": args.warmup,
    }))
}

fn matmul_gflops<B: Backend>(n: usize, device: &B::Device) -> f64 {
    let a = Tensor::<B, 2>::random([n, n], Distribution::Default, device);
    let b = Tensor::<B, 2>::random([n, n], Distribution::Default, device);
    let mut g = Vec::new();
    for rep in 0..6 {
        let t0 = Instant::now();
        let c = a.clone().matmul(b.clone());
        let _ = c.slice([0..1, 0..1]).into_scalar().elem::<f32>();
        let dt = t0.elapsed().as_secs_f64();
        if rep > 0 {
            g.push(2.0 * (n as f64).powi(3) / dt / 1e9);
        }
    }
    median(g)
}
