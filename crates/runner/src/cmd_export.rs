//! `ablate export`: a pre-training run's current checkpoint as an HF model folder (`config.json`,
//! `model.safetensors`, `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`) that
//! `transformers.AutoModelForMaskedLM` / `AutoTokenizer` and `ablate encode` load. The run is opened as
//! `ablate eval` opens it (its current checkpoint, verified against its checksums); the folder is built under a
//! temporary name and renamed into place, so a half-written export never looks complete.

use std::path::{Path, PathBuf};

use ablate_data::{AtomicDir, TOKENIZER_FILE};
use ablate_model::hf::{HfConfig, export_model, hf_config};
use ablate_model::{EncoderInput, MaskedPositions};
use ablate_train::PretrainedRun;
use anyhow::{Context, bail};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use clap::Args;
use serde_json::{Value, json};

use crate::device::DeviceChoice;

/// Arguments of `ablate export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The pre-training run folder (`ablate train --out`).
    #[arg(long)]
    pub from: PathBuf,
    /// The HF model folder to write; it must not exist or be empty (see --force).
    #[arg(long, required_unless_present = "logits_out")]
    pub out: Option<PathBuf>,
    /// Replace an existing --out folder that holds an HF model (a config.json).
    #[arg(long)]
    pub force: bool,
    /// Token ids (a JSON list of equal-length rows, as for `ablate encode --ids`) to run the lab's MLM model
    /// on, for checking an export against HF (scripts/check_hf_export.py); needs --logits-out.
    #[arg(long, requires = "logits_out")]
    pub logits_ids: Option<PathBuf>,
    /// Write the lab's MLM logits at every position of --logits-ids here (.npy, [rows, length, vocab]); with
    /// an Enhanced Mask Decoder they are the EMD's, which the export drops.
    #[arg(long, requires = "logits_ids")]
    pub logits_out: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
}

/// Runs `ablate export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let run = PretrainedRun::open(&args.from)?;
    let hf = hf_config(&run.spec.model.config)
        .with_context(|| format!("{}: the run's model", args.from.display()))?;
    if let Some(out) = &args.out {
        check_out(out, args.force)?;
    }
    if args.out.is_some() {
        for w in &hf.warnings {
            eprintln!("warning: {w}");
        }
    }
    crate::with_backend!(args.device, |B, dev| export::<B>(&args, &run, &hf, &dev))
}

/// Refuses an existing --out that is not an empty folder, unless --force (and then only an HF model folder
/// is replaced, on commit).
fn check_out(out: &Path, force: bool) -> anyhow::Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        bail!(
            "--out {}: exists and is not a folder; choose another --out",
            out.display()
        );
    }
    let empty = std::fs::read_dir(out)
        .with_context(|| format!("cannot read {}", out.display()))?
        .next()
        .is_none();
    if !empty && !force {
        bail!(
            "--out {}: exists and is not empty; choose another --out, or pass --force to replace it",
            out.display()
        );
    }
    if !empty && !out.join("config.json").is_file() {
        bail!(
            "--out {}: --force replaces only an HF model folder (one with config.json), and this one has \
             none; choose another --out or remove it",
            out.display()
        );
    }
    Ok(())
}

fn export<B: Backend>(
    args: &ExportArgs,
    run: &PretrainedRun,
    hf: &HfConfig,
    device: &B::Device,
) -> anyhow::Result<()> {
    let mlm = run.load_mlm::<B>(device)?;
    if let (Some(ids), Some(path)) = (&args.logits_ids, &args.logits_out) {
        write_logits(&mlm, ids, path, device)?;
    }
    let Some(out) = &args.out else {
        return Ok(());
    };
    // an empty --out (accepted by `check_out`) gives way; the folder is built under a temporary name
    if out.is_dir() && std::fs::read_dir(out)?.next().is_none() {
        std::fs::remove_dir(out).with_context(|| format!("cannot replace {}", out.display()))?;
    }
    let folder = AtomicDir::create(out, "config.json")?; // removed unless committed
    export_model(&mlm, folder.path()).with_context(|| format!("--out {}", out.display()))?;
    tokenizer_files(run, folder.path())?;
    folder.commit()?;
    println!(
        "exported {} (step {}) as HF {} to {}",
        run.dir.display(),
        run.step,
        hf.json["model_type"].as_str().unwrap_or("?"),
        out.display()
    );
    Ok(())
}

/// `tokenizer.json` (the run's, copied), `tokenizer_config.json` and `special_tokens_map.json`.
fn tokenizer_files(run: &PretrainedRun, dir: &Path) -> anyhow::Result<()> {
    let tok = run.tokenizer()?;
    let special = tok.special();
    let name = |id: u32| {
        tok.id_to_token(id)
            .with_context(|| format!("{}: no token for id {id}", tok.path().display()))
    };
    let mut tokens = serde_json::Map::new();
    for (key, id) in [
        ("unk_token", special.unk),
        ("sep_token", special.sep),
        ("pad_token", special.pad),
        ("cls_token", special.cls),
        ("mask_token", special.mask),
    ] {
        tokens.insert(key.into(), json!(name(id)?));
    }
    let source = run.dir.join(TOKENIZER_FILE);
    let text = std::fs::read_to_string(&source)
        .with_context(|| format!("cannot read {}", source.display()))?;
    let parsed: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", source.display()))?;
    let cfg = &run.spec.model.config;
    let mut config = tokens.clone();
    config.insert("tokenizer_class".into(), json!("PreTrainedTokenizerFast"));
    config.insert(
        "model_max_length".into(),
        json!(cfg.max_position_embeddings),
    );
    // lower-casing is done by tokenizer.json's normaliser; this key only records it
    if let Some(lower) = parsed["normalizer"]["lowercase"].as_bool() {
        config.insert("do_lower_case".into(), json!(lower));
    }
    // token types only when the model has them (a lab model without any exports as BERT with one zero row)
    let names = if cfg.type_vocab_size > 0 {
        json!(["input_ids", "token_type_ids", "attention_mask"])
    } else {
        json!(["input_ids", "attention_mask"])
    };
    config.insert("model_input_names".into(), names);
    config.insert("clean_up_tokenization_spaces".into(), json!(false));
    ablate_data::write_bytes(&dir.join("tokenizer.json"), text.as_bytes())?;
    ablate_data::write_json(&dir.join("tokenizer_config.json"), &Value::Object(config))?;
    ablate_data::write_json(&dir.join("special_tokens_map.json"), &Value::Object(tokens))?;
    Ok(())
}

/// The lab's MLM logits at every position of the rows in `ids`, as .npy `[rows, length, vocab]`.
fn write_logits<B: Backend>(
    mlm: &ablate_model::MlmModel<B>,
    ids: &Path,
    out: &Path,
    device: &B::Device,
) -> anyhow::Result<()> {
    let rows = crate::encode::read_ids(ids, mlm.model.config.vocab_size)?;
    let (n_rows, len) = (rows.len(), rows[0].len());
    mlm.model
        .check_len(len)
        .with_context(|| format!("{}: rows are too long for this model", ids.display()))?;
    let flat: Vec<i64> = rows.into_iter().flatten().collect();
    let input = EncoderInput::unmasked(Tensor::<B, 2, Int>::from_data(
        TensorData::new(flat, [n_rows, len]),
        device,
    ));
    let every =
        MaskedPositions::new(vec![(0..len).collect(); n_rows]).map_err(anyhow::Error::msg)?;
    let logits = mlm.forward(&input, &every, false).logits;
    let (shape, values) = crate::encode::npy_parts(logits)?;
    crate::encode::write_npy(out, &shape, values)?;
    println!(
        "wrote the lab's MLM logits ({n_rows} x {len} x {}) to {}",
        shape[2],
        out.display()
    );
    Ok(())
}
