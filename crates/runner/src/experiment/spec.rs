//! Experiment files (`experiments/*.toml`): a base run spec, named variants (a preset plus overrides),
//! seeds, optional grid axes, the baseline, and the evaluations run after pre-training.
//!
//! ```toml
//! name = "quick"                      # optional; default: the file's stem
//! description = "what it compares"
//! baseline = "bert"
//! seeds = [1, 2]
//! [base]                              # any key of an `ablate train` spec
//! steps = 200
//! [base.model]
//! hidden_size = 64
//! [[variants]]
//! name = "bert"
//! preset = "bert"
//! [[variants]]
//! name = "deberta-no-c2p"
//! preset = "deberta"
//! model = { position = { kind = "deberta", c2p = false } }   # overrides, merged into base
//! [grid]                              # optional: every combination of these values
//! "optimiser.lr" = [1e-3, 3e-4]
//! [finetune]                          # optional
//! tasks = ["bshift"]
//! [length]                            # optional: length extrapolation on held-out text
//! lengths = [32, 64, 128, 256]
//! [attention]                         # optional: attention maps of one sentence
//! sentence = "It is a truth universally acknowledged."
//! ```
//!
//! [`load`] reads the file, checks every part and reports every problem it finds, each with its location,
//! before anything runs.

pub use super::problems::{Problem, Problems};
use super::variants::{parse_grid, parse_variants};
use std::path::{Path, PathBuf};

use ablate_train::FinetuneTask;
use serde::Deserialize;

/// One variant: a name, a preset and overrides of the base spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Folder-safe name, unique in the file.
    pub name: String,
    /// The preset name (`model.preset`).
    pub preset: String,
    /// Run-spec keys merged over the base.
    pub overrides: toml::Table,
}

/// Fine-tuning after pre-training (the options of `ablate finetune`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneSection {
    /// Tasks, each fine-tuned separately from the pre-trained model.
    pub tasks: Vec<FinetuneTask>,
    /// Passes over the training examples.
    pub epochs: Option<u64>,
    /// Examples per step.
    pub batch_size: Option<usize>,
    /// Tokens per example.
    pub max_len: Option<usize>,
    /// Use at most this many training examples (0: all).
    #[serde(default)]
    pub max_train_examples: usize,
    /// Peak learning rate.
    pub lr: Option<f64>,
    /// Warm-up steps.
    pub warmup_steps: Option<u64>,
    /// Scale-invariant fine-tuning.
    #[serde(default)]
    pub sift: bool,
}

/// Which held-out split a length evaluation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HeldOut {
    /// The corpus's validation split.
    Valid,
    /// The corpus's test split.
    #[default]
    Test,
}

impl HeldOut {
    /// `valid` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            HeldOut::Valid => "valid",
            HeldOut::Test => "test",
        }
    }
}

/// Length extrapolation: MLM accuracy on held-out text cut into rows of each length.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthSection {
    /// Row lengths, `[CLS]` and `[SEP]` included.
    pub lengths: Vec<usize>,
    /// The held-out split scored.
    #[serde(default)]
    pub split: HeldOut,
    /// At most this many rows per length.
    pub max_rows: Option<usize>,
}

/// Attention maps of one sentence.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionSection {
    /// The sentence.
    pub sentence: String,
}

/// A checked experiment file.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// The file it was read from.
    pub file: PathBuf,
    /// Its text, copied into the experiment folder.
    pub text: String,
    /// The name (default: the file's stem).
    pub name: String,
    /// What it compares.
    pub description: String,
    /// The variant deltas are taken against.
    pub baseline: String,
    /// Seeds of every (variant, grid point).
    pub seeds: Vec<u64>,
    /// The base run spec, as a table.
    pub base: toml::Table,
    /// The variants, in file order.
    pub variants: Vec<Variant>,
    /// Grid axes: dotted run-spec key and its values, in key order.
    pub grid: Vec<(String, Vec<toml::Value>)>,
    /// Fine-tuning after pre-training.
    pub finetune: Option<FinetuneSection>,
    /// Length extrapolation.
    pub length: Option<LengthSection>,
    /// Attention maps.
    pub attention: Option<AttentionSection>,
}

const TOP_KEYS: [&str; 10] = [
    "name",
    "description",
    "baseline",
    "seeds",
    "base",
    "variants",
    "grid",
    "finetune",
    "length",
    "attention",
];

/// The most runs one experiment file may expand to (variants x grid points x seeds): the plan is checked
/// before it is built, so a file cannot make the lab build an unbounded list.
pub const MAX_RUNS: u64 = 10_000;

/// Whether `s` can name a folder: letters, digits, `-`, `_` and `.`, not starting with `.`.
pub fn is_folder_safe(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Reads and checks the experiment file `path`: its own keys here, every expanded run spec in
/// [`crate::experiment::plan`]. Returns every problem found.
pub fn parse(path: &Path) -> Result<Experiment, Problems> {
    let fail = |location: &str, message: String| Problems {
        file: path.to_path_buf(),
        list: vec![Problem {
            location: location.to_string(),
            message,
        }],
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(
            "file",
            format!("cannot read it ({e}); give the path of an experiment .toml file"),
        )
    })?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| {
        fail(
            "file",
            format!("not valid TOML: {}", e.to_string().trim_end()),
        )
    })?;
    let mut problems = Vec::new();
    let mut problem = |location: &str, message: String| {
        problems.push(Problem {
            location: location.to_string(),
            message,
        })
    };
    for key in table.keys() {
        if !TOP_KEYS.contains(&key.as_str()) {
            problem(
                key,
                format!("unknown key; the keys are {}", TOP_KEYS.join(", ")),
            );
        }
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "experiment".into());
    let name = match table.remove("name") {
        None => stem,
        Some(toml::Value::String(s)) if is_folder_safe(&s) => s,
        Some(v) => {
            problem(
                "name",
                format!("{v} is not a folder-safe name (letters, digits, - _ .)"),
            );
            stem
        }
    };
    let description = match table.remove("description") {
        None => String::new(),
        Some(toml::Value::String(s)) => s,
        Some(v) => {
            problem("description", format!("{v} is not a string"));
            String::new()
        }
    };
    let seeds: Vec<u64> = match table.remove("seeds") {
        None => {
            problem(
                "seeds",
                "missing; list the seeds, e.g. seeds = [1, 2, 3]".into(),
            );
            Vec::new()
        }
        Some(v) => match v.try_into::<Vec<u64>>() {
            Ok(s) if s.is_empty() => {
                problem("seeds", "empty; list at least one seed".into());
                s
            }
            Ok(s) => {
                let mut sorted = s.clone();
                sorted.sort();
                sorted.dedup();
                if sorted.len() != s.len() {
                    problem("seeds", "a seed is listed twice".into());
                }
                s
            }
            Err(_) => {
                problem(
                    "seeds",
                    "must be a list of non-negative integers, e.g. [1, 2, 3]".into(),
                );
                Vec::new()
            }
        },
    };
    let base = match table.remove("base") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t,
        Some(_) => {
            problem("base", "must be a table of run-spec keys ([base])".into());
            toml::Table::new()
        }
    };
    for key in ["seed", "device"] {
        if base.contains_key(key) {
            problem(
                &format!("base.{key}"),
                format!(
                    "set by the sweep ({}); remove it",
                    if key == "seed" {
                        "the top-level `seeds` list"
                    } else {
                        "`ablate run --device`"
                    }
                ),
            );
        }
    }
    let mut declared = Vec::new();
    let variants = parse_variants(table.remove("variants"), &mut declared, &mut problem);
    let baseline = match table.remove("baseline") {
        Some(toml::Value::String(s)) => {
            if !declared.is_empty() && !declared.contains(&s) {
                problem(
                    "baseline",
                    format!(
                        "`{s}` is not a variant; the variants are {}",
                        declared.join(", ")
                    ),
                );
            }
            s
        }
        None => match variants.first() {
            Some(v) => v.name.clone(),
            None => String::new(),
        },
        Some(v) => {
            problem("baseline", format!("{v} is not a variant name"));
            String::new()
        }
    };
    let grid = parse_grid(table.remove("grid"), &mut problem);
    let runs = grid
        .iter()
        .try_fold((variants.len() * seeds.len()) as u64, |n, (_, values)| {
            n.checked_mul(values.len() as u64)
        });
    if runs.is_none_or(|n| n > MAX_RUNS) {
        let count = runs.map_or("more than 2^64".to_string(), |n| n.to_string());
        problem(
            "grid",
            format!(
                "the experiment expands to {count} runs (variants x grid points x seeds), more than the \
                 {MAX_RUNS} one file may hold; use fewer values, or split it into several experiment files"
            ),
        );
    }
    let finetune = section::<FinetuneSection>(table.remove("finetune"), "finetune", &mut problem);
    if let Some(f) = &finetune
        && f.tasks.is_empty()
    {
        problem(
            "finetune.tasks",
            "empty; list tasks (bshift, sent_order, wn_pos_context) or remove [finetune]".into(),
        );
    }
    if let Some(f) = &finetune
        && f.tasks.contains(&FinetuneTask::WnPosContext)
        && !Path::new(ablate_data::WORDNET_DIR).is_dir()
    {
        problem(
            "finetune.tasks",
            format!(
                "wn_pos_context needs the WordNet database in {}; install it with \
                 scripts/install_corpus_packages.sh or drop the task",
                ablate_data::WORDNET_DIR
            ),
        );
    }
    let length = section::<LengthSection>(table.remove("length"), "length", &mut problem);
    if let Some(l) = &length {
        if l.lengths.is_empty() {
            problem("length.lengths", "empty; list row lengths".into());
        }
        if let Some(&bad) = l.lengths.iter().find(|&&n| n < 8) {
            problem(
                "length.lengths",
                format!("{bad} is too short; use lengths of at least 8"),
            );
        }
    }
    let attention =
        section::<AttentionSection>(table.remove("attention"), "attention", &mut problem);
    if let Some(a) = &attention
        && a.sentence.trim().is_empty()
    {
        problem("attention.sentence", "empty; give a sentence".into());
    }
    if !problems.is_empty() {
        return Err(Problems {
            file: path.to_path_buf(),
            list: problems,
        });
    }
    Ok(Experiment {
        file: path.to_path_buf(),
        text,
        name,
        description,
        baseline,
        seeds,
        base,
        variants,
        grid,
        finetune,
        length,
        attention,
    })
}

fn section<T: for<'de> Deserialize<'de>>(
    value: Option<toml::Value>,
    key: &str,
    problem: &mut impl FnMut(&str, String),
) -> Option<T> {
    let value = value?;
    match value.try_into::<T>() {
        Ok(t) => Some(t),
        Err(e) => {
            problem(key, e.to_string().trim_end().to_string());
            None
        }
    }
}
