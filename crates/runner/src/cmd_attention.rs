//! `ablate attention`: the attention probabilities of one sentence under a pre-trained run's model, every
//! layer and head, as JSON (the input of the report's attention-map heatmaps).

use std::path::PathBuf;

use ablate_model::EncoderInput;
use ablate_train::PretrainedRun;
use anyhow::{Context, bail};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use clap::Args;

use crate::device::DeviceChoice;
use crate::experiment::record::AttentionMap;

/// Arguments of `ablate attention`.
#[derive(Debug, Args)]
pub struct AttentionArgs {
    /// The pre-training run folder.
    #[arg(long)]
    pub from: PathBuf,
    /// The sentence (tokenised with the run's tokenizer; `[CLS]` and `[SEP]` are added).
    #[arg(long)]
    pub text: String,
    /// Write the map here (default: print it).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
}

/// Longest sentence accepted, in tokens: a map of N x N per head and layer is written as text.
pub const MAX_TOKENS: usize = 128;

/// Runs `ablate attention`.
pub fn run(args: AttentionArgs) -> anyhow::Result<()> {
    let run = PretrainedRun::open(&args.from)?;
    let tok = run.tokenizer()?;
    let special = tok.special();
    let mut ids = vec![special.cls];
    ids.extend(tok.encode(&args.text)?);
    ids.push(special.sep);
    if ids.len() == 2 {
        bail!("--text: the sentence has no tokens; give a sentence of a few words");
    }
    if ids.len() > MAX_TOKENS {
        bail!(
            "--text: the sentence has {} tokens; give one of at most {MAX_TOKENS}",
            ids.len()
        );
    }
    let cfg = &run.spec.model.config;
    if cfg.has_learned_positions() && ids.len() > cfg.max_position_embeddings {
        bail!(
            "--text: {} tokens but the model's absolute position table has {} rows",
            ids.len(),
            cfg.max_position_embeddings
        );
    }
    let tokens = ids
        .iter()
        .map(|&id| tok.id_to_token(id).unwrap_or_else(|| format!("#{id}")))
        .collect();
    let layers =
        crate::with_backend!(args.device, |B, dev| attention_probs::<B>(&run, &ids, &dev))?;
    let map = AttentionMap {
        text: args.text.clone(),
        tokens,
        layers,
    };
    match &args.json {
        Some(path) => {
            ablate_data::write_file(path, |w| {
                serde_json::to_writer(w, &map).context("cannot serialise the attention map")
            })?;
            println!(
                "{} tokens, {} layers: attention map in {}",
                map.tokens.len(),
                map.layers.len(),
                path.display()
            );
        }
        None => println!("{}", serde_json::to_string(&map)?),
    }
    Ok(())
}

/// Probabilities `[layer][head][query][key]` of the encoder's layers for one row of `ids`.
fn attention_probs<B: Backend>(
    run: &PretrainedRun,
    ids: &[u32],
    device: &B::Device,
) -> anyhow::Result<Vec<Vec<Vec<Vec<f32>>>>> {
    let mlm = run.load_mlm::<B>(device)?;
    let n = ids.len();
    let data = TensorData::new(ids.iter().map(|&i| i as i64).collect::<Vec<_>>(), [1, n]);
    let input = EncoderInput::unmasked(Tensor::<B, 2, Int>::from_data(data, device));
    let out = mlm.model.forward(&input, true);
    let mut layers = Vec::with_capacity(out.attentions.len());
    for probs in out.attentions {
        let [_, heads, q, k] = probs.dims();
        let values: Vec<f32> = probs
            .into_data()
            .convert::<f32>()
            .to_vec()
            .map_err(|e| anyhow::anyhow!("cannot read the attention probabilities: {e:?}"))?;
        layers.push(
            (0..heads)
                .map(|h| {
                    (0..q)
                        .map(|i| values[(h * q + i) * k..(h * q + i + 1) * k].to_vec())
                        .collect()
                })
                .collect(),
        );
    }
    Ok(layers)
}
