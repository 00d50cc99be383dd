//! The metrics of a report: what each one is, how it reads, and where a run's value comes from (finished
//! stages only). They are the columns of the per-run frame and the `metric` values of `summary.csv`.

use std::collections::BTreeSet;

use super::collect::{Experiment, RunData};
use super::stats;

/// How a metric's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A share in [0, 1] (accuracy, F1), shown in percent.
    Fraction,
    /// A loss in nats per token.
    Loss,
    /// A perplexity.
    Perplexity,
    /// Tokens per second.
    Rate,
    /// Seconds.
    Seconds,
    /// A count (parameters).
    Count,
}

/// Where a metric's value of a run comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `final_eval.loss` of `pretrain/summary.json`.
    MlmLoss,
    /// `final_eval.accuracy` of `pretrain/summary.json`.
    MlmAccuracy,
    /// `final_eval.ppl` of `pretrain/summary.json`.
    MlmPpl,
    /// Test accuracy of a fine-tuning task (at its best valid evaluation).
    TaskAccuracy(String),
    /// Test macro-F1 of a fine-tuning task (at its best valid evaluation).
    TaskF1(String),
    /// MLM accuracy at a row length, from `length.json`.
    LengthAccuracy(usize),
    /// Median tokens/s over the train rows of `pretrain/metrics.csv`.
    TokensPerS,
    /// `wall_time_s` of `pretrain/summary.json`.
    WallTime,
    /// `params` of `pretrain/summary.json`.
    Params,
}

/// One metric (a column of the per-run frame, a `metric` value of the summary).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Column name, such as `mlm_accuracy` or `bshift_acc`.
    pub key: String,
    /// Words for tables and charts.
    pub label: String,
    /// How its values read.
    pub kind: MetricKind,
    /// `Some(true)` when higher is better, `Some(false)` when lower is, `None` for neither.
    pub higher_is_better: Option<bool>,
    /// Where its values come from.
    pub source: Source,
}

impl Metric {
    fn new(
        key: String,
        label: String,
        kind: MetricKind,
        higher: Option<bool>,
        source: Source,
    ) -> Self {
        Self {
            key,
            label,
            kind,
            higher_is_better: higher,
            source,
        }
    }

    /// The value of this metric for `run`, from finished stages only; `None` when absent or not finite.
    pub fn value(&self, run: &RunData) -> Option<f64> {
        let pre = run.pretrain_done();
        let mlm = pre.and_then(|s| s.final_eval.as_ref()).map(|e| &e.scores);
        let task_test = |task: &str| {
            run.finetune_done(task)
                .and_then(|s| s.best_eval.as_ref().or(s.final_eval.as_ref()))
                .map(|e| &e.test)
        };
        let v = match &self.source {
            Source::MlmLoss => mlm.map(|s| s.loss),
            Source::MlmAccuracy => mlm.map(|s| s.accuracy),
            Source::MlmPpl => mlm.map(|s| s.ppl),
            Source::TaskAccuracy(t) => task_test(t).map(|s| s.accuracy),
            Source::TaskF1(t) => task_test(t).map(|s| s.macro_f1),
            Source::LengthAccuracy(len) => run
                .length
                .as_ref()
                .and_then(|r| r.by_length.as_ref())
                .and_then(|v| v.iter().find(|s| s.length == *len))
                .and_then(|s| s.mlm_accuracy),
            Source::TokensPerS => pre.and_then(|_| {
                let rates: Vec<f64> = run.metrics.iter().filter_map(|r| r.tokens_per_s).collect();
                stats::median(&rates)
            }),
            Source::WallTime => pre.map(|s| s.wall_time_s),
            Source::Params => pre.map(|s| s.params as f64),
        };
        v.filter(|x| x.is_finite())
    }
}

/// The metrics of an experiment, in table order: MLM, fine-tuning tasks, lengths, cost.
pub fn metrics(exp: &Experiment) -> Vec<Metric> {
    use MetricKind::*;
    let mut out = vec![
        Metric::new(
            "mlm_loss".into(),
            "valid MLM loss".into(),
            Loss,
            Some(false),
            Source::MlmLoss,
        ),
        Metric::new(
            "mlm_accuracy".into(),
            "valid MLM accuracy".into(),
            Fraction,
            Some(true),
            Source::MlmAccuracy,
        ),
        Metric::new(
            "mlm_ppl".into(),
            "valid MLM perplexity".into(),
            Perplexity,
            Some(false),
            Source::MlmPpl,
        ),
    ];
    for task in finetune_tasks(exp) {
        out.push(Metric::new(
            format!("{task}_acc"),
            format!("{task} test accuracy"),
            Fraction,
            Some(true),
            Source::TaskAccuracy(task.clone()),
        ));
        out.push(Metric::new(
            format!("{task}_f1"),
            format!("{task} test macro-F1"),
            Fraction,
            Some(true),
            Source::TaskF1(task),
        ));
    }
    for len in lengths(exp) {
        out.push(Metric::new(
            format!("len{len}_acc"),
            format!("MLM accuracy at {len} tokens"),
            Fraction,
            Some(true),
            Source::LengthAccuracy(len),
        ));
    }
    out.push(Metric::new(
        "tokens_per_s".into(),
        "pre-training tokens/s".into(),
        Rate,
        Some(true),
        Source::TokensPerS,
    ));
    out.push(Metric::new(
        "wall_time_s".into(),
        "pre-training wall time (s)".into(),
        Seconds,
        Some(false),
        Source::WallTime,
    ));
    out.push(Metric::new(
        "params".into(),
        "trainable parameters".into(),
        Count,
        None,
        Source::Params,
    ));
    out
}

/// Fine-tuning tasks: those of `experiment.json`, then any other found in the runs.
pub fn finetune_tasks(exp: &Experiment) -> Vec<String> {
    let extra: BTreeSet<&String> = exp
        .runs
        .iter()
        .flat_map(|r| r.finetune.keys())
        .filter(|t| !exp.info.finetune_tasks.contains(t))
        .collect();
    exp.info
        .finetune_tasks
        .iter()
        .chain(extra)
        .cloned()
        .collect()
}

/// Evaluation lengths: those of `experiment.json`, then any other found in the runs.
pub fn lengths(exp: &Experiment) -> Vec<usize> {
    let extra: BTreeSet<usize> = exp
        .runs
        .iter()
        .filter_map(|r| r.length.as_ref()?.by_length.as_ref())
        .flatten()
        .map(|s| s.length)
        .filter(|l| !exp.info.lengths.contains(l))
        .collect();
    exp.info.lengths.iter().copied().chain(extra).collect()
}
