//! One short paragraph under each chart of `report.md`: what the chart shows and what stands out in it, read
//! off the same summary the tables use (so the text and the pictures always agree).

use super::aggregate::Summary;
use super::charts::{ChartFile, ChartKind};
use super::collect::Experiment;
use super::stats;

/// The paragraph for chart `c` (empty when there is nothing to say).
pub(crate) fn paragraph(exp: &Experiment, summary: &Summary, c: &ChartFile) -> String {
    let point = c.point.as_str();
    match c.kind {
        ChartKind::ValidLoss => valid_loss(exp, summary, point),
        ChartKind::FinalMetrics => final_metrics(exp, summary, point),
        ChartKind::Length => length(exp, summary, point),
        ChartKind::Attention => "The last layer's attention probabilities on the sentence, averaged over \
            heads: row = query token, column = key token, darker = more weight. Weight along the diagonal is \
            attention to neighbouring tokens; a column dark for every row is one key attended to from \
            everywhere."
            .to_string(),
        ChartKind::Throughput => throughput(exp, summary, point),
        ChartKind::Grid => grid(exp, summary),
    }
}

/// `(variant, mean)` of `metric` at `point` for every variant that has it, best first (by the metric's
/// direction; highest first without one).
fn ranked(exp: &Experiment, summary: &Summary, point: &str, metric: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = exp
        .variants
        .iter()
        .filter_map(|v| Some((v.clone(), summary.get(v, point, metric)?.moments.mean)))
        .filter(|(_, m)| m.is_finite())
        .collect();
    let lower_first = summary
        .metric(metric)
        .and_then(|m| m.higher_is_better)
        .is_some_and(|h| !h);
    out.sort_by(|a, b| {
        let o = a.1.total_cmp(&b.1);
        if lower_first { o } else { o.reverse() }
    });
    out
}

/// How many variants differ from the baseline on `metric` at `point` at Holm-adjusted p < 0.05, of how many
/// compared.
fn significant(summary: &Summary, point: &str, metric: &str) -> (usize, usize) {
    let rows = summary
        .rows
        .iter()
        .filter(|r| r.point == point && r.metric == metric && r.variant != summary.baseline);
    let (mut yes, mut all) = (0, 0);
    for r in rows.filter(|r| r.p_adj.is_some()) {
        all += 1;
        if r.p_adj.is_some_and(|p| p < 0.05) {
            yes += 1;
        }
    }
    (yes, all)
}

fn valid_loss(exp: &Experiment, summary: &Summary, point: &str) -> String {
    let r = ranked(exp, summary, point, "mlm_loss");
    let (Some(best), Some(worst)) = (r.first(), r.last()) else {
        return String::new();
    };
    let mut s = format!(
        "Valid MLM loss at each evaluation during pre-training: mean over seeds, with the 95% confidence \
         interval of the mean as a band; the baseline `{}` is the thick line. At the end the lowest loss is \
         `{}`'s ({:.3}) and the highest `{}`'s ({:.3}).",
        summary.baseline, best.0, best.1, worst.0, worst.1
    );
    let unigram: Vec<f64> = exp
        .runs
        .iter()
        .filter(|run| point.is_empty() || run.point == point)
        .filter_map(|run| run.pretrain_done()?.unigram.as_ref().map(|u| u.loss))
        .collect();
    if let Some(u) = stats::moments(&unigram).map(|m| m.mean) {
        s.push_str(&format!(
            " The dashed line is the loss of predicting each masked token from its frequency alone ({u:.3}); \
             the variants end between {:.2} and {:.2} nats below it.",
            u - worst.1,
            u - best.1
        ));
    }
    s
}

fn final_metrics(exp: &Experiment, summary: &Summary, point: &str) -> String {
    let mut keys = vec![("mlm_accuracy".to_string(), "valid MLM accuracy".to_string())];
    for task in super::metrics::finetune_tasks(exp) {
        keys.push((format!("{task}_acc"), format!("{task} test accuracy")));
    }
    let mut parts = Vec::new();
    for (key, name) in keys {
        let r = ranked(exp, summary, point, &key);
        let Some(best) = r.first() else { continue };
        let (yes, all) = significant(summary, point, &key);
        parts.push(format!(
            "{name}: best `{}` ({:.2}%), {yes} of {all} variants differ from the baseline at p < 0.05",
            best.0,
            best.1 * 100.0
        ));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "Each panel is one score, the bar its mean over seeds and the whisker the 95% confidence interval of \
         the mean; the outlined bar and the dashed line are the baseline `{}`. {}{} (p Holm-adjusted).",
        summary.baseline,
        parts[0][..1].to_uppercase(),
        &parts.join("; ")[1..]
    )
}

fn length(exp: &Experiment, summary: &Summary, point: &str) -> String {
    let mut lengths = super::metrics::lengths(exp);
    lengths.sort_unstable();
    let train = exp.info.train_max_len;
    let (Some(&longest), true) = (lengths.last(), lengths.contains(&train)) else {
        return String::new();
    };
    if longest <= train {
        return String::new();
    }
    let mut drops: Vec<(String, f64, f64)> = exp
        .variants
        .iter()
        .filter_map(|v| {
            let at = |l: usize| Some(summary.get(v, point, &format!("len{l}_acc"))?.moments.mean);
            Some((v.clone(), at(train)?, at(longest)?))
        })
        .collect();
    if drops.is_empty() {
        return String::new();
    }
    drops.sort_by(|a, b| (a.1 - a.2).total_cmp(&(b.1 - b.2)));
    let (least, most) = (&drops[0], &drops[drops.len() - 1]);
    let best = drops
        .iter()
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .unwrap_or(least);
    format!(
        "MLM accuracy on held-out rows of each length (the models were pre-trained on rows of {train} \
         tokens, the dashed line). From {train} to {longest} tokens accuracy falls least for `{}` ({:.1}% to \
         {:.1}%) and most for `{}` ({:.1}% to {:.1}%); at {longest} tokens the best is `{}` ({:.1}%).",
        least.0,
        least.1 * 100.0,
        least.2 * 100.0,
        most.0,
        most.1 * 100.0,
        most.2 * 100.0,
        best.0,
        best.2 * 100.0
    )
}

fn throughput(exp: &Experiment, summary: &Summary, point: &str) -> String {
    let r = ranked(exp, summary, point, "tokens_per_s");
    let (Some(fast), Some(slow)) = (r.first(), r.last()) else {
        return String::new();
    };
    format!(
        "Median pre-training tokens per second over the train steps: fastest `{}` ({:.0}), slowest `{}` \
         ({:.0}). Runs that share the machine (`--jobs`) slow each other, so compare these within one sweep \
         only.",
        fast.0, fast.1, slow.0, slow.1
    )
}

fn grid(exp: &Experiment, summary: &Summary) -> String {
    let mut best = Vec::new();
    for v in &exp.variants {
        let at = exp
            .points
            .iter()
            .filter_map(|p| Some((p, summary.get(v, p, "mlm_loss")?.moments.mean)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((p, m)) = at {
            best.push(format!("`{v}` at `{p}` ({m:.3})"));
        }
    }
    format!(
        "The final valid MLM loss of every variant at every grid point, mean over seeds with the 95% \
         confidence interval of the mean. Lowest loss per variant: {}.",
        best.join(", ")
    )
}
