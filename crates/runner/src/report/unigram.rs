//! The frequency-only reference in `report.md`: how far each variant's valid MLM loss and accuracy got past
//! what the training split's token frequencies alone score on the same masked tokens.

use std::fmt::Write as _;

use super::collect::Experiment;

/// How far each variant got past the frequency-only reference (the unigram loss and the accuracy of always
/// naming the most frequent token, on the same masked valid tokens), when the runs recorded it.
pub(crate) fn note(md: &mut String, exp: &Experiment, point: &str) {
    let mut reference = None;
    let mut rows = Vec::new();
    for variant in &exp.variants {
        let (mut gaps, mut ratios) = (Vec::new(), Vec::new());
        for s in exp
            .runs_of(variant, point)
            .filter_map(|r| r.pretrain_done())
        {
            let (Some(u), Some(e)) = (&s.unigram, &s.final_eval) else {
                continue;
            };
            reference.get_or_insert((u.loss, u.accuracy));
            gaps.push(u.loss - e.scores.loss);
            if u.accuracy > 0.0 {
                ratios.push(e.scores.accuracy / u.accuracy);
            }
        }
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        if let Some(gap) = mean(&gaps) {
            let ratio = mean(&ratios).map_or("-".to_string(), |r| format!("{r:.2}x"));
            let least = gaps.iter().copied().fold(f64::INFINITY, f64::min);
            rows.push(format!("| {variant} | {gap:.3} | {least:.3} | {ratio} |"));
        }
    }
    let Some((loss, acc)) = reference else {
        return;
    };
    let _ = writeln!(
        md,
        "Frequency-only reference on the same masked valid tokens: loss {loss:.3} nats (the unigram \
         cross-entropy of the training split's token frequencies), accuracy {:.2}% (always the most frequent \
         token). How far below it each variant's final valid loss is (mean over seeds, and the least of any \
         seed), and its accuracy as a multiple of the reference's:\n",
        100.0 * acc
    );
    md.push_str(
        "| variant | unigram loss - valid loss | least over seeds | accuracy / reference |\n",
    );
    md.push_str("|---|---:|---:|---:|\n");
    for r in rows {
        let _ = writeln!(md, "{r}");
    }
    md.push('\n');
}
