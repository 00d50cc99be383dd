//! `ablate new`: a commented experiment file to start from, and `ablate completions`: shell completions.

use std::io::Write;
use std::path::PathBuf;

use ablate_model::presets::Preset;
use anyhow::{Context, bail};
use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// Arguments of `ablate new`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ablate new experiments/mine.toml --preset bert --preset deberta --preset rope\n  \
    ablate validate experiments/mine.toml && ablate run experiments/mine.toml --jobs 2"
)]
pub struct NewArgs {
    /// The experiment file to write (refused if it exists, unless --force).
    pub experiment: PathBuf,
    /// A variant with this preset (repeatable; the first is the baseline). Default: bert and deberta.
    #[arg(long = "preset", value_parser = parse_preset)]
    pub presets: Vec<Preset>,
    /// A corpus file or folder to pre-train on [default: the bundled Austen sample].
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `ablate completions`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ablate completions bash > ~/.local/share/bash-completion/completions/ablate\n  \
    ablate completions zsh > ~/.zfunc/_ablate\n  ablate completions fish > ~/.config/fish/completions/ablate.fish"
)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

fn parse_preset(s: &str) -> Result<Preset, String> {
    Preset::ALL
        .into_iter()
        .find(|p| p.name() == s)
        .ok_or_else(|| {
            let names: Vec<String> = Preset::ALL.iter().map(|p| p.name()).collect();
            format!("unknown preset `{s}`; the presets are {}", names.join(", "))
        })
}

/// The experiment file text for `presets` (the first is the baseline) and an optional corpus.
pub fn template(presets: &[Preset], corpus: Option<&str>) -> String {
    let baseline = presets
        .first()
        .map_or_else(|| "bert".to_string(), |p| p.name());
    let corpus_line = match corpus {
        Some(c) => format!("corpus = {}\n", toml::Value::String(c.to_string())),
        None => "# corpus = \"../data/core/corpus.txt\"   # relative to this file; default: the bundled Austen sample\n"
            .to_string(),
    };
    let mut variants = String::new();
    for p in presets {
        variants.push_str(&format!(
            "\n[[variants]]\nname = \"{n}\"\npreset = \"{n}\"\n# Any model key can be overridden per variant:\n\
             # [variants.model]\n# num_attention_heads = 8\n",
            n = p.name()
        ));
    }
    format!(
        r#"# An ablate experiment: variants that differ only in their position scheme, trained with the same data,
# steps and seeds, then fine-tuned and evaluated; `ablate run THIS_FILE --jobs 2` runs it and writes the
# report. Every key is documented in docs/experiments.md; `ablate validate THIS_FILE` checks the file.
description = "{desc}"
# Deltas and significance tests are taken against this variant.
baseline = "{baseline}"
# Every variant runs once per seed (paired by seed in the report's tests).
seeds = [1, 2, 3]

# The pre-training spec every variant starts from.
[base]
steps = 500
batch_size = 32
eval_every = 50
eval_batches = 8
checkpoint_every = 100
log_every = 10

[base.model]
hidden_size = 128
num_hidden_layers = 2
num_attention_heads = 4
intermediate_size = 512
max_position_embeddings = 256
# HF's 0.02 is sized for hidden 768; 0.05 ~ 0.02 x sqrt(768 / 128) suits this width.
initializer_range = 0.05
hidden_dropout_prob = 0.0
attention_probs_dropout_prob = 0.0

[base.data]
{corpus_line}max_len = 64

[base.data.tokenizer]
vocab_size = 4000

[base.optimiser]
lr = 2e-3
warmup_steps = 40

# To sweep a key over values for every variant (one run per value, variant and seed):
# [grid]
# "optimiser.lr" = [1e-3, 2e-3]
{variants}
# Fine-tuning tasks after pre-training: bshift, sent_order, wn_pos_context (docs/data.md).
[finetune]
tasks = ["bshift"]
epochs = 2
max_train_examples = 320
lr = 1e-3

# Length extrapolation: MLM loss and accuracy at these row lengths (trained at base.data.max_len).
[length]
lengths = [32, 64, 128, 256]
max_rows = 32

# Attention maps of one sentence (every layer and head).
[attention]
sentence = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife."
"#,
        desc = presets
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(" vs "),
    )
}

/// Runs `ablate new`.
pub fn new(args: NewArgs) -> anyhow::Result<()> {
    let presets = if args.presets.is_empty() {
        vec![Preset::Bert, Preset::Deberta]
    } else {
        args.presets.clone()
    };
    for (i, p) in presets.iter().enumerate() {
        if presets[..i].contains(p) {
            bail!(
                "--preset {} is given twice; give each preset once",
                p.name()
            );
        }
    }
    if args.experiment.exists() && !args.force {
        bail!(
            "{} exists; give another path, or --force to overwrite it",
            args.experiment.display()
        );
    }
    let corpus = match &args.corpus {
        Some(c) => Some(
            std::path::absolute(c)
                .with_context(|| format!("cannot resolve --corpus {}", c.display()))?
                .to_string_lossy()
                .into_owned(),
        ),
        None => None,
    };
    let text = template(&presets, corpus.as_deref());
    if let Some(parent) = args
        .experiment
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    ablate_data::write_bytes(&args.experiment, text.as_bytes())?;
    let (exp, runs) = crate::cmd_experiment::load(&args.experiment)?;
    println!(
        "{}: {} variants x {} seeds = {} runs; check it with `ablate validate {0}`, run it with \
         `ablate run {0} --jobs 2`",
        args.experiment.display(),
        exp.variants.len(),
        exp.seeds.len(),
        runs.len()
    );
    Ok(())
}

/// Runs `ablate completions`: the completion script on stdout.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = crate::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "ablate", &mut buf);
    let mut out = std::io::stdout().lock();
    match out.write_all(&buf).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to stdout"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_by_name_and_unknown_names_list_them() {
        for p in Preset::ALL {
            assert_eq!(parse_preset(&p.name()), Ok(p));
        }
        let e = parse_preset("debreta").unwrap_err();
        assert!(e.contains("debreta") && e.contains("deberta-no-emd"), "{e}");
    }

    #[test]
    fn template_names_the_baseline_and_every_variant() {
        let t = template(&[Preset::Rope, Preset::Alibi], Some("my corpus.txt"));
        assert!(t.contains("baseline = \"rope\""));
        assert!(t.contains("name = \"alibi\"\npreset = \"alibi\""));
        assert!(t.contains("corpus = \"my corpus.txt\""));
        let parsed: toml::Table = t.parse().unwrap();
        assert_eq!(parsed["variants"].as_array().unwrap().len(), 2);
    }
}
