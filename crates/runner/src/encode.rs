//! `ablate encode`: load an HF DeBERTa-v2/v3 checkpoint, run it on token ids, write the last hidden state.

use std::path::{Path, PathBuf};

use ablate_model::EncoderInput;
use ablate_model::hf::load_checkpoint;
use anyhow::{Context, bail};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use clap::{Args, ValueEnum};
use npyz::WriterBuilder;

use crate::device::DeviceChoice;

/// Arguments of `ablate encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// HF checkpoint folder: config.json and model.safetensors (or pytorch_model.bin).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// JSON list of equal-length rows of token ids; every position is attended.
    #[arg(long)]
    pub ids: PathBuf,
    /// Output .npy file, shape [rows, length, hidden].
    #[arg(long)]
    pub out: PathBuf,
    /// Element type of the output.
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    pub dtype: Dtype,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
}

/// Output element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dtype {
    /// float32.
    F32,
    /// float64 (values computed in float32, widened).
    F64,
}

/// Reads and checks `IDS.json` against the vocabulary: rows of equal, non-zero length.
pub fn read_ids(path: &Path, vocab_size: usize) -> anyhow::Result<Vec<Vec<i64>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let rows = value.as_array().with_context(|| {
        format!(
            "{}: expected a JSON list of rows of token ids",
            path.display()
        )
    })?;
    if rows.is_empty() {
        bail!(
            "{}: the list of rows is empty; give at least one row of token ids",
            path.display()
        );
    }
    let mut out = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let row = row
            .as_array()
            .with_context(|| format!("{}: row {r} is not a list of token ids", path.display()))?;
        if row.is_empty() {
            bail!("{}: row {r} is empty", path.display());
        }
        let mut ids = Vec::with_capacity(row.len());
        for (c, id) in row.iter().enumerate() {
            let id = id.as_u64().with_context(|| {
                format!(
                    "{}: row {r}, position {c}: {id} is not a non-negative integer",
                    path.display()
                )
            })?;
            if id as usize >= vocab_size {
                bail!(
                    "{}: row {r}, position {c}: id {id} is out of the vocabulary (vocab_size = {vocab_size}, \
                     valid ids 0..{})",
                    path.display(),
                    vocab_size - 1
                );
            }
            ids.push(id as i64);
        }
        if let Some(first) = out.first().map(Vec::len)
            && first != ids.len()
        {
            bail!(
                "{}: rows have different lengths (row 0 has {first} ids, row {r} has {}); pad them to one length",
                path.display(),
                ids.len()
            );
        }
        out.push(ids);
    }
    Ok(out)
}

/// Runs `ablate encode`.
pub fn run(args: EncodeArgs) -> anyhow::Result<()> {
    crate::with_backend!(args.device, |B, device| encode::<B>(&args, &device))
}

fn encode<B: Backend>(args: &EncodeArgs, device: &B::Device) -> anyhow::Result<()> {
    let (model, config) = load_checkpoint::<B>(&args.checkpoint, device)?;
    let ids = read_ids(&args.ids, config.vocab_size)?;
    let (rows, len) = (ids.len(), ids[0].len());
    model.check_len(len).with_context(|| {
        format!(
            "{}: rows are too long for this checkpoint",
            args.ids.display()
        )
    })?;
    let flat: Vec<i64> = ids.into_iter().flatten().collect();
    let input = Tensor::<B, 2, Int>::from_data(TensorData::new(flat, [rows, len]), device);
    let hidden = model
        .forward(&EncoderInput::unmasked(input), false)
        .last_hidden_state;
    let (shape, values) = npy_parts(hidden)?;
    match args.dtype {
        Dtype::F32 => write_npy(&args.out, &shape, values)?,
        Dtype::F64 => write_npy(&args.out, &shape, values.into_iter().map(f64::from))?,
    }
    tracing::info!(
        "wrote {} ({rows} x {len} x {})",
        args.out.display(),
        shape[2]
    );
    Ok(())
}

/// A tensor's shape and its values as f32, as [`write_npy`] takes them.
pub fn npy_parts<B: Backend, const D: usize>(
    t: Tensor<B, D>,
) -> anyhow::Result<(Vec<u64>, Vec<f32>)> {
    let shape = t.dims().iter().map(|&d| d as u64).collect();
    let values = (t.into_data().convert::<f32>().to_vec())
        .map_err(|e| anyhow::anyhow!("cannot read the tensor's values: {e:?}"))?;
    Ok((shape, values))
}

/// Writes `values` as an .npy array of `shape`, atomically.
pub fn write_npy<T: npyz::Serialize + npyz::AutoSerialize>(
    path: &Path,
    shape: &[u64],
    values: impl IntoIterator<Item = T>,
) -> anyhow::Result<()> {
    ablate_data::write_file(path, |w| -> anyhow::Result<()> {
        let mut npy = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(w)
            .begin_nd()?;
        npy.extend(values)?;
        npy.finish()?;
        Ok(())
    })
}
