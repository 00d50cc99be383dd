//! `report.md`: the experiment's title, an ablation table shaped like the DeBERTa paper's (variants as rows,
//! metrics as columns, `mean ± std` over seeds with the delta to the baseline and a significance marker from
//! the Holm-adjusted p-value), the length and cost tables, a note on the columns that names the tests used,
//! the charts, the failed or missing runs, and how the folder was produced. The text depends only on the
//! folder's files, so a report is reproducible.

use std::fmt::Write as _;

use super::aggregate::Summary;
use super::charts::ChartFile;
use super::collect::Experiment;
use super::compare::{Test, family_sizes};
use super::files::CHARTS;
use super::metrics::{Metric, MetricKind, Source};

/// The whole report.
pub fn render(exp: &Experiment, summary: &Summary, charts: &[ChartFile]) -> String {
    let mut md = String::new();
    let info = &exp.info;
    let _ = writeln!(md, "# Experiment `{}`\n", info.name);
    if !info.description.trim().is_empty() {
        let _ = writeln!(md, "{}\n", info.description.trim());
    }
    let seeds: Vec<String> = info.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(
        md,
        "Baseline: `{}`. Variants: {}. Seeds: {}. Runs found: {} of {}.\n",
        info.baseline,
        exp.variants.len(),
        if seeds.is_empty() {
            "none".to_string()
        } else {
            seeds.join(", ")
        },
        exp.runs.len(),
        exp.runs.len() + exp.missing.len(),
    );
    if !info.grid.is_empty() {
        md.push_str("Grid axes:\n\n");
        for axis in &info.grid {
            let _ = writeln!(md, "- `{}`: {}", axis.key, axis.values.join(", "));
        }
        md.push('\n');
    }

    md.push_str("## Results\n\n");
    for point in &exp.points {
        if exp.has_grid() {
            let _ = writeln!(md, "### Grid point `{point}`\n");
        }
        results_tables(&mut md, exp, summary, point);
        super::unigram::note(&mut md, exp, point);
    }
    column_notes(&mut md, exp, summary);

    md.push_str("## Charts\n\n");
    if charts.is_empty() {
        md.push_str("No chart: no run has results yet.\n\n");
    }
    for c in charts {
        let _ = writeln!(
            md,
            "### {}\n\n![{}]({CHARTS}/{}.png)\n\n[SVG]({CHARTS}/{}.svg)\n",
            c.title, c.title, c.stem, c.stem
        );
        let text = super::captions::paragraph(exp, summary, c);
        if !text.is_empty() {
            let _ = writeln!(md, "{text}\n");
        }
    }

    super::appendix::problems(&mut md, exp);
    super::appendix::provenance(&mut md, exp);
    md
}

/// The ablation table, then the length and cost tables, of one grid point.
fn results_tables(md: &mut String, exp: &Experiment, summary: &Summary, point: &str) {
    let present = |m: &&Metric| summary.rows.iter().any(|r| r.metric == m.key);
    let main: Vec<&Metric> = summary
        .metrics
        .iter()
        .filter(|m| m.key.starts_with("mlm_") || is_task_metric(m))
        .filter(present)
        .collect();
    let lengths: Vec<&Metric> = summary
        .metrics
        .iter()
        .filter(|m| matches!(m.source, Source::LengthAccuracy(_)))
        .filter(present)
        .collect();
    let cost: Vec<&Metric> = ["params", "tokens_per_s", "wall_time_s"]
        .iter()
        .filter_map(|k| summary.metric(k))
        .filter(present)
        .collect();
    if main.is_empty() && lengths.is_empty() && cost.is_empty() {
        md.push_str("No finished results yet.\n\n");
        return;
    }
    let headers: Vec<String> = main.iter().map(|m| header(m, exp)).collect();
    table(
        md,
        exp,
        summary,
        point,
        "Ablation (mean ± std over seeds)",
        &main,
        &headers,
        true,
    );
    let headers: Vec<String> = lengths
        .iter()
        .map(|m| match m.source {
            Source::LengthAccuracy(l) if l == exp.info.train_max_len => {
                format!("{l} tokens (train) ↑")
            }
            Source::LengthAccuracy(l) => format!("{l} tokens ↑"),
            _ => header(m, exp),
        })
        .collect();
    table(
        md,
        exp,
        summary,
        point,
        "Length extrapolation: MLM accuracy (%) by row length",
        &lengths,
        &headers,
        false,
    );
    let headers: Vec<String> = cost.iter().map(|m| header(m, exp)).collect();
    table(md, exp, summary, point, "Cost", &cost, &headers, false);
}

fn is_task_metric(m: &Metric) -> bool {
    matches!(m.source, Source::TaskAccuracy(_) | Source::TaskF1(_))
}

fn header(m: &Metric, _exp: &Experiment) -> String {
    let name = match m.key.as_str() {
        "mlm_loss" => "MLM loss".to_string(),
        "mlm_accuracy" => "MLM acc (%)".to_string(),
        "mlm_ppl" => "MLM ppl".to_string(),
        "params" => "params".to_string(),
        "tokens_per_s" => "tokens/s".to_string(),
        "wall_time_s" => "wall time (s)".to_string(),
        _ => match &m.source {
            Source::TaskAccuracy(t) => format!("{t} acc (%)"),
            Source::TaskF1(t) => format!("{t} F1 (%)"),
            _ => m.label.clone(),
        },
    };
    match m.higher_is_better {
        Some(true) => format!("{name} ↑"),
        Some(false) => format!("{name} ↓"),
        None => name,
    }
}

#[allow(clippy::too_many_arguments)]
fn table(
    md: &mut String,
    exp: &Experiment,
    summary: &Summary,
    point: &str,
    caption: &str,
    metrics: &[&Metric],
    headers: &[String],
    with_runs: bool,
) {
    if metrics.is_empty() {
        return;
    }
    let _ = writeln!(md, "**{caption}**\n");
    let mut head = vec!["variant".to_string(), "preset".to_string()];
    if with_runs {
        head.push("runs".to_string());
    }
    head.extend(headers.iter().cloned());
    let _ = writeln!(md, "| {} |", head.join(" | "));
    let align: Vec<&str> = head
        .iter()
        .enumerate()
        .map(|(i, _)| if i < 2 { "---" } else { "---:" })
        .collect();
    let _ = writeln!(md, "|{}|", align.join("|"));
    let seeds = exp.info.seeds.len() as u32;
    for variant in &exp.variants {
        let name = if *variant == summary.baseline {
            format!("**{variant}** (baseline)")
        } else {
            variant.clone()
        };
        let preset = exp
            .info
            .variants
            .iter()
            .position(|v| v == variant)
            .and_then(|i| exp.info.presets.get(i))
            .map(|p| format!("`{p}`"))
            .unwrap_or_default();
        let mut cells = vec![name, preset];
        if with_runs {
            let done = exp
                .runs_of(variant, point)
                .filter(|r| r.pretrain_done().is_some())
                .count();
            cells.push(format!("{done}/{seeds}"));
        }
        for m in metrics {
            let best = best_display(exp, summary, m, point);
            cells.push(cell(summary, m, variant, point, seeds, best.as_deref()));
        }
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md.push('\n');
}

/// The displayed mean of the best variant at `point` for a metric with a direction (`None` without one).
fn best_display(exp: &Experiment, summary: &Summary, m: &Metric, point: &str) -> Option<String> {
    let higher = m.higher_is_better?;
    let means = exp
        .variants
        .iter()
        .filter_map(|v| summary.get(v, point, &m.key))
        .map(|r| r.moments.mean)
        .filter(|x| x.is_finite());
    let best = if higher {
        means.fold(f64::NEG_INFINITY, f64::max)
    } else {
        means.fold(f64::INFINITY, f64::min)
    };
    best.is_finite().then(|| value(m.kind, best))
}

/// `mean ± std` (the mean in bold when it displays as `best`, the column's best), then `[n=k]` when k differs
/// from the seed count, then `(Δ with marker)` off the baseline: the stars of the Holm-adjusted p-value, and `†`
/// when the test is Welch's rather than the paired t-test.
fn cell(
    summary: &Summary,
    m: &Metric,
    variant: &str,
    point: &str,
    seeds: u32,
    best: Option<&str>,
) -> String {
    let Some(row) = summary.get(variant, point, &m.key) else {
        return "—".to_string();
    };
    let mo = &row.moments;
    let mean = value(m.kind, mo.mean);
    let shown = if best == Some(mean.as_str()) {
        format!("**{mean}**")
    } else {
        mean
    };
    let mut s = match (m.kind, mo.std) {
        (MetricKind::Count, _) => count(mo.mean),
        (_, Some(std)) => format!("{shown} ± {}", value(m.kind, std)),
        (_, None) => shown,
    };
    if mo.n != seeds {
        let _ = write!(s, " [n={}]", mo.n);
    }
    if let Some(d) = row.delta
        && variant != summary.baseline
        && m.kind != MetricKind::Count
    {
        let sign = if d < 0.0 { "−" } else { "+" };
        let welch = if row.test == Some(Test::Welch) {
            "†"
        } else {
            ""
        };
        let _ = write!(
            s,
            " ({sign}{}{}{welch})",
            value(m.kind, d.abs()),
            stars(row.p_adj)
        );
    }
    s
}

/// The `m` of the Holm adjustment: one value, or the range over (grid point, metric).
fn family_note(summary: &Summary) -> String {
    let sizes = family_sizes(&summary.rows);
    match (sizes.iter().min(), sizes.iter().max()) {
        (Some(a), Some(b)) if a == b => format!("m = {a}"),
        (Some(a), Some(b)) => format!("m = {a} to {b}, by metric and grid point"),
        _ => "no p-value here".to_string(),
    }
}

/// Which tests gave the p-values of the report.
fn tests_note(summary: &Summary) -> String {
    let count = |t: Test| {
        summary
            .rows
            .iter()
            .filter(|r| r.test == Some(t) && r.p_value.is_some())
            .count()
    };
    let (paired, welch) = (count(Test::PairedT), count(Test::Welch));
    let paired_text = "the two-sided paired t-test on the per-seed differences with the baseline \
                       (df = pairs − 1), used where every seed of the variant has a baseline run";
    let welch_text = "Welch's two-sided unequal-variance t-test over seeds, used where the seeds do not all \
                      match the baseline's (marked `†`)";
    match (paired, welch) {
        (0, 0) => "none could be computed (fewer than two seeds or no spread)".to_string(),
        (_, 0) => format!("{paired_text} (all {paired} comparisons)"),
        (0, _) => format!("{welch_text} (all {welch} comparisons)"),
        _ => format!("{paired_text} ({paired} comparisons); {welch_text} ({welch} comparisons)"),
    }
}

fn stars(p: Option<f64>) -> &'static str {
    match p {
        Some(p) if p < 0.01 => "\\*\\*",
        Some(p) if p < 0.05 => "\\*",
        _ => "",
    }
}

/// A value in the metric's display unit (shares in percent).
fn value(kind: MetricKind, v: f64) -> String {
    match kind {
        MetricKind::Fraction => format!("{:.2}", v * 100.0),
        MetricKind::Loss => format!("{v:.4}"),
        MetricKind::Perplexity => format!("{v:.2}"),
        MetricKind::Rate => format!("{v:.0}"),
        MetricKind::Seconds => format!("{v:.1}"),
        MetricKind::Count => count(v),
    }
}

fn count(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn column_notes(md: &mut String, exp: &Experiment, summary: &Summary) {
    md.push_str("### What the columns mean\n\n");
    let n = exp.info.seeds.len();
    let _ = writeln!(
        md,
        "- Each cell is the mean ± sample standard deviation (ddof 1) over the seeds that finished that stage \
         ({n} asked for); `[n=k]` marks a cell with a different count. `runs` counts finished pre-trainings. \
         The best mean of each column is in bold (ties at the shown precision all bold)."
    );
    let _ = writeln!(
        md,
        "- In brackets: the difference to the baseline `{}` at the same grid point, in the column's unit \
         (percentage points for %): the mean of the per-seed differences when the seeds are paired, else the \
         difference of the means. Marked `*` for p < 0.05 and `**` for p < 0.01, p being Holm-adjusted \
         (Holm-Bonferroni) over the m variants compared with the baseline at that grid point and metric ({}). \
         Test: {}. With few seeds the tests have little power, so no marker is not evidence of no effect. The \
         test of each row (`test`), the raw and adjusted p-values (`p_value`, `p_adj`) and the 95% confidence \
         half-widths (Student t) are in `summary.csv`.",
        summary.baseline,
        family_note(summary),
        tests_note(summary),
    );
    md.push_str(
        "- MLM: the last evaluation on the valid split at the end of pre-training: loss in nats per masked \
         token, accuracy = share of masked tokens predicted exactly, ppl = exp(loss). ↑ higher is better, \
         ↓ lower is better.\n",
    );
    let tasks = super::metrics::finetune_tasks(exp);
    if !tasks.is_empty() {
        let shares: Vec<String> = tasks
            .iter()
            .filter_map(|t| {
                let v: Vec<f64> = exp
                    .runs
                    .iter()
                    .filter_map(|r| r.finetune.get(t).map(|s| s.test_majority_share))
                    .collect();
                let m = super::stats::moments(&v)?;
                Some(format!("{t} {:.1}%", m.mean * 100.0))
            })
            .collect();
        let _ = writeln!(
            md,
            "- Fine-tuning tasks: accuracy and macro-F1 on the test split at the evaluation with the best valid \
             accuracy. Always guessing the majority class scores: {}.",
            if shares.is_empty() {
                "unknown".to_string()
            } else {
                shares.join(", ")
            }
        );
    }
    if !exp.info.lengths.is_empty() {
        let _ = writeln!(
            md,
            "- Length extrapolation: MLM accuracy of `ablate eval --lengths` at each row length (tokens, [CLS] \
             and [SEP] included); the models were pre-trained at {} tokens.",
            exp.info.train_max_len
        );
    }
    md.push_str(
        "- Cost: trainable parameters, median tokens/s over the train rows of `pretrain/metrics.csv`, and \
         pre-training wall time.\n- Only finished stages count: a failed or unfinished stage adds no value.\n\n",
    );
}
