//! A check before a model is trained on the CPU: its weights, gradients and two Adam moments alone must fit in
//! the memory the machine has available. A model too large for the machine is then refused with its sizes
//! named, instead of the process aborting on a failed allocation (or the machine swapping) once it is built.

use std::path::Path;

use ablate_model::ModelConfig;
use anyhow::bail;

/// Bytes a trained parameter holds at least: f32 weight, gradient and the two Adam moments.
const TRAINING_BYTES_PER_PARAMETER: u128 = 16;

/// Refuses `cfg` (from the spec file `spec`) when its least training memory exceeds what is available.
pub fn check_training_fits(cfg: &ModelConfig, spec: &Path) -> anyhow::Result<()> {
    let Some(available) = available_bytes() else {
        return Ok(());
    };
    let least = cfg.least_parameter_count();
    let needed = least.saturating_mul(TRAINING_BYTES_PER_PARAMETER);
    if needed > available as u128 {
        let gib = |b: u128| b as f64 / (1u64 << 30) as f64;
        bail!(
            "{}: the model (model.hidden_size {}, model.intermediate_size {}, model.num_hidden_layers {}, \
             vocab_size {}) has at least {least} parameters; training holds {TRAINING_BYTES_PER_PARAMETER} bytes \
             for each (weights, gradients, two Adam moments), at least {:.1} GiB, more than the {:.1} GiB this \
             machine has available (MemAvailable in /proc/meminfo); make the model smaller",
            spec.display(),
            cfg.hidden_size,
            cfg.intermediate_size,
            cfg.num_hidden_layers,
            cfg.vocab_size,
            gib(needed),
            gib(available as u128)
        );
    }
    Ok(())
}

/// `MemAvailable` of /proc/meminfo in bytes (Linux); `None` where it cannot be read.
fn available_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}
