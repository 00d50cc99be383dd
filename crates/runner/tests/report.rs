//! `ablate report`: a synthetic experiment folder (3 variants x 3 seeds, one failed run, fine-tuning, length
//! and attention results) written with the real file types, then checked against statistics computed here by
//! hand from the same inputs.

use std::collections::BTreeMap;
use std::path::Path;

use ablate_runner::experiment::record::{
    AttentionMap, ExperimentInfo, GridAxis, RunRecord, RunState, StageFailure, files,
};
use ablate_runner::report::write_report;
use ablate_train::metrics::{MetricsFile, PretrainRow, RowKind};
use ablate_train::summary::{ClassEvalPoint, EvalPoint, Failure};
use ablate_train::unigram::UnigramReference;
use ablate_train::{
    ClassScores, FinetuneSummary, LengthScores, MlmScores, PretrainSummary, RunStatus,
    TextEvalReport,
};

const VARIANTS: [&str; 3] = ["deberta", "bert", "nope"];
const SEEDS: [u64; 3] = [1, 2, 3];
const FAILED_REASON: &str = "non-finite loss at step 7 (lr too high?)";

/// Valid MLM accuracy of a run. Paired by seed, bert - deberta = 0.04, 0.06, 0.08 (t = 3 sqrt 3, df = 2,
/// p = 0.0351: significant alone, not once Holm-adjusted with nope's p = 0.111).
fn mlm_accuracy(variant: &str, seed: u64) -> f64 {
    let s = seed as f64 - 2.0;
    match variant {
        "deberta" => 0.32 + 0.02 * s,
        "bert" => 0.38 + 0.04 * s,
        _ => [0.20, 0.25, 0.0][seed as usize - 1],
    }
}

fn mlm_loss(variant: &str, seed: u64) -> f64 {
    4.0 - 3.0 * mlm_accuracy(variant, seed)
}

fn bshift_best(variant: &str, seed: u64) -> (f64, f64) {
    let v = [0.60, 0.62, 0.66][seed as usize - 1] - if variant == "bert" { 0.05 } else { 0.0 };
    (v, v - 0.03)
}

fn length_acc(variant: &str, seed: u64, len: usize) -> Option<f64> {
    let drop = match (variant, len) {
        (_, 128) => 0.0,
        ("bert", 256) | ("nope", 256) => return (variant == "bert").then_some(0.05),
        (_, 256) => 0.03,
        (_, _) => 0.01,
    };
    Some(mlm_accuracy(variant, seed) - drop)
}

fn info(grid: Vec<GridAxis>, variants: &[&str]) -> ExperimentInfo {
    ExperimentInfo {
        name: "synthetic".into(),
        description: "Three position schemes on made-up numbers.".into(),
        variants: variants.iter().map(|s| s.to_string()).collect(),
        presets: variants.iter().map(|s| s.to_string()).collect(),
        baseline: "deberta".into(),
        seeds: SEEDS.to_vec(),
        grid,
        finetune_tasks: vec!["bshift".into()],
        lengths: vec![64, 128, 256],
        train_max_len: 128,
        attention: true,
    }
}

fn json<T: serde::Serialize>(path: &Path, value: &T) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

/// Writes one run folder; `failed` runs stop in pre-training.
fn write_run(
    root: &Path,
    variant: &str,
    point: &BTreeMap<String, String>,
    seed: u64,
    failed: bool,
) {
    let label: Vec<String> = point.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let prefix = if label.is_empty() {
        variant.to_string()
    } else {
        format!("{variant}~{}", label.join(","))
    };
    let id = format!("{prefix}/seed-{seed}");
    let dir = root.join(files::RUNS).join(&id);
    let record = RunRecord {
        id: id.clone(),
        variant: variant.into(),
        seed,
        grid: point.clone(),
        status: if failed {
            RunState::Failed
        } else {
            RunState::Completed
        },
        failure: failed.then(|| StageFailure {
            stage: "pretrain".into(),
            reason: FAILED_REASON.into(),
        }),
        stage_seconds: BTreeMap::new(),
    };
    json(&dir.join(files::RUN_JSON), &record);

    let pre = dir.join(files::PRETRAIN);
    std::fs::create_dir_all(&pre).unwrap();
    let mut metrics = MetricsFile::open(&pre.join("metrics.csv")).unwrap();
    let last = if failed { 7 } else { 100 };
    let final_loss = mlm_loss(variant, seed);
    for step in (10..=last)
        .step_by(10)
        .chain(if failed { Some(7) } else { None })
    {
        let train = PretrainRow {
            kind: RowKind::Train,
            step,
            lr: Some(1e-3),
            loss: Some(7.0 - step as f64 * 0.02),
            grad_norm: Some(1.0),
            tokens_per_s: Some(1000.0 * seed as f64 + step as f64),
            elapsed_s: step as f64 * 0.1,
            eval_loss: None,
            eval_accuracy: None,
            eval_ppl: None,
        };
        metrics.append(&train).unwrap();
        if step % 25 == 0 || (step == 100 && !failed) {
            let loss = final_loss + (100 - step) as f64 * 0.02;
            let eval = PretrainRow {
                kind: RowKind::Eval,
                eval_loss: Some(loss),
                eval_accuracy: Some(0.1),
                eval_ppl: Some(loss.exp()),
                tokens_per_s: None,
                ..train
            };
            metrics.append(&eval).unwrap();
        }
    }
    let scores = MlmScores {
        loss: final_loss,
        accuracy: mlm_accuracy(variant, seed),
        ppl: final_loss.exp(),
        masked_tokens: 1000,
        rows: 50,
    };
    let summary = PretrainSummary {
        status: if failed {
            RunStatus::Failed
        } else {
            RunStatus::Completed
        },
        failure: failed.then(|| Failure {
            step: 7,
            reason: FAILED_REASON.into(),
            last_checkpoint_step: None,
            resumable: false,
        }),
        preset: variant.into(),
        steps: 100,
        steps_done: last,
        params: 1_234_567,
        wall_time_s: 10.0 * seed as f64,
        tokens_seen: 100_000,
        final_train_loss: Some(5.0),
        final_eval: Some(EvalPoint {
            step: last,
            scores: scores.clone(),
        }),
        best_eval: Some(EvalPoint { step: last, scores }),
        unigram: Some(UnigramReference {
            loss: 4.5,
            accuracy: 0.05,
            masked_tokens: 1000,
        }),
    };
    json(&pre.join("summary.json"), &summary);
    if failed {
        return;
    }

    let (acc, f1) = bshift_best(variant, seed);
    let point = |step, accuracy, macro_f1| ClassEvalPoint {
        step,
        valid: ClassScores {
            accuracy: 0.7,
            macro_f1: 0.7,
            examples: 100,
        },
        test: ClassScores {
            accuracy,
            macro_f1,
            examples: 200,
        },
    };
    let ft = FinetuneSummary {
        status: RunStatus::Completed,
        failure: None,
        task: "bshift".into(),
        labels: vec!["original".into(), "shifted".into()],
        from: pre.display().to_string(),
        sift: false,
        steps: 50,
        steps_done: 50,
        params: 1_234_999,
        wall_time_s: 3.0,
        test_majority_share: 0.5,
        final_train_loss: Some(0.4),
        final_eval: Some(point(50, acc - 0.1, f1 - 0.1)),
        best_eval: Some(point(40, acc, f1)),
    };
    json(&dir.join(files::FINETUNE).join("bshift/summary.json"), &ft);

    let by_length = [64, 128, 256]
        .into_iter()
        .map(|len| {
            let acc = length_acc(variant, seed, len);
            LengthScores {
                length: len,
                rows: if acc.is_some() { 10 } else { 0 },
                masked_tokens: 100,
                mlm_loss: acc.map(|a| 4.0 - 3.0 * a),
                mlm_accuracy: acc,
                mlm_ppl: acc.map(|a| (4.0 - 3.0 * a).exp()),
                skipped: acc
                    .is_none()
                    .then(|| "longer than the position table".to_string()),
            }
        })
        .collect();
    let length = TextEvalReport {
        from: pre.clone(),
        checkpoint_step: 100,
        text: "valid split".into(),
        tokens: 5000,
        seed: 7,
        max_len: 128,
        rows: 40,
        mlm_loss: final_loss,
        mlm_accuracy: mlm_accuracy(variant, seed),
        mlm_ppl: final_loss.exp(),
        masked_tokens: 600,
        by_length: Some(by_length),
    };
    json(&dir.join(files::LENGTH_JSON), &length);

    let tokens: Vec<String> = ["[CLS]", "the", "cat", "sat", "down", "[SEP]"]
        .map(String::from)
        .to_vec();
    let n = tokens.len();
    let head = |h: usize| -> Vec<Vec<f32>> {
        (0..n)
            .map(|q| {
                let raw: Vec<f32> = (0..n)
                    .map(|k| 1.0 + ((q + 2 * k + h + seed as usize) % 5) as f32)
                    .collect();
                let sum: f32 = raw.iter().sum();
                raw.iter().map(|v| v / sum).collect()
            })
            .collect()
    };
    let attention = AttentionMap {
        text: "the cat sat down".into(),
        tokens,
        layers: vec![vec![head(0), head(1)], vec![head(2), head(3)]],
    };
    json(&dir.join(files::ATTENTION_JSON), &attention);
}

/// The experiment folder: every variant x seed, `nope` seed 3 failed.
fn build(root: &Path) {
    build_with(root, |v, s| v == "nope" && s == 3);
}

/// The experiment folder: every variant x seed, the runs `failed(variant, seed)` failed in pre-training.
fn build_with(root: &Path, failed: impl Fn(&str, u64) -> bool) {
    json(
        &root.join(files::EXPERIMENT_JSON),
        &info(Vec::new(), &VARIANTS),
    );
    std::fs::write(
        root.join(files::EXPERIMENT_TOML),
        "description = \"synthetic\"\nbaseline = \"deberta\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join(files::COMMANDS_LOG),
        "2026-01-01T00:00:00Z ablate run experiments/synthetic.toml\n",
    )
    .unwrap();
    for v in VARIANTS {
        for s in SEEDS {
            write_run(root, v, &BTreeMap::new(), s, failed(v, s));
        }
    }
}

type Row = BTreeMap<String, String>;

fn summary_rows(root: &Path) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(root.join("summary.csv")).unwrap();
    reader.deserialize().map(|r| r.unwrap()).collect()
}

fn find<'a>(rows: &'a [Row], variant: &str, point: &str, metric: &str) -> &'a Row {
    rows.iter()
        .find(|r| r["variant"] == variant && r["point"] == point && r["metric"] == metric)
        .unwrap_or_else(|| panic!("no summary row for {variant} {point} {metric}"))
}

fn num(row: &Row, col: &str) -> Option<f64> {
    let cell = &row[col];
    (!cell.is_empty()).then(|| {
        cell.parse()
            .unwrap_or_else(|e| panic!("{col} = {cell:?}: {e}"))
    })
}

fn close(a: Option<f64>, b: f64, what: &str) {
    let a = a.unwrap_or_else(|| panic!("{what}: empty, expected {b}"));
    assert!(
        (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
        "{what}: {a} vs {b}"
    );
}

/// Mean and sample std (ddof 1), by hand.
fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[test]
fn summary_statistics_match_hand_computation() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    build(root);
    let out = write_report(root).unwrap();
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let rows = summary_rows(root);

    let acc = |v: &str, seeds: &[u64]| {
        seeds
            .iter()
            .map(|&s| mlm_accuracy(v, s))
            .collect::<Vec<_>>()
    };
    let (base, bert, nope) = (
        acc("deberta", &SEEDS),
        acc("bert", &SEEDS),
        acc("nope", &[1, 2]),
    );
    let (mb, _) = mean_std(&base);
    let (mr, sr) = mean_std(&bert);
    let (mn, sn) = mean_std(&nope);

    let row = find(&rows, "bert", "", "mlm_accuracy");
    assert_eq!(row["n"], "3");
    close(num(row, "mean"), mr, "bert mean");
    close(num(row, "std"), sr, "bert std");
    // Every seed has a baseline run: the paired t-test on the per-seed differences 0.04, 0.06, 0.08.
    assert_eq!(row["test"], "paired_t");
    let diffs: Vec<f64> = bert.iter().zip(&base).map(|(r, b)| r - b).collect();
    let (md, sd) = mean_std(&diffs);
    close(num(row, "delta"), md, "bert delta");
    close(
        Some(md),
        mr - mb,
        "full pairing: delta = difference of the means",
    );
    let t = md / (sd / 3f64.sqrt());
    close(Some(t), 3.0 * 3f64.sqrt(), "bert t");
    // df = 2: the t CDF has the closed form 1/2 + t / (2 sqrt(2 + t^2)).
    let p_bert = 1.0 - t.abs() / (2.0 + t * t).sqrt();
    close(num(row, "p_value"), p_bert, "bert p-value");
    assert!((p_bert - 0.0351).abs() < 1e-4, "{p_bert}");
    // 95% CI half-width: t(0.975, 2) = 4.302652729911275.
    close(
        num(row, "ci95"),
        4.302_652_729_911_275 * sr / 3f64.sqrt(),
        "bert ci95",
    );

    // nope: seeds 1 and 2 (seed 3 failed) both have a baseline run: paired over those two, df = 1 (Cauchy).
    let row = find(&rows, "nope", "", "mlm_accuracy");
    assert_eq!(row["n"], "2");
    close(num(row, "mean"), mn, "nope mean");
    close(num(row, "std"), sn, "nope std");
    assert_eq!(row["test"], "paired_t");
    let diffs = [nope[0] - base[0], nope[1] - base[1]];
    let (md, sd) = mean_std(&diffs);
    close(num(row, "delta"), md, "nope delta over matched seeds");
    assert!(
        (md - (mn - mb)).abs() > 0.005,
        "the baseline's unmatched seed 3 is left out"
    );
    let t = md / (sd / 2f64.sqrt());
    let p_nope = 1.0 - 2.0 / std::f64::consts::PI * t.abs().atan();
    close(num(row, "p_value"), p_nope, "nope p-value");
    assert!((p_nope - 0.1112).abs() < 1e-4, "{p_nope}");

    // Holm over the m = 2 variants: 2 * 0.0351 = 0.0702 for bert, max(0.0702, 0.1112) for nope.
    close(
        num(find(&rows, "bert", "", "mlm_accuracy"), "p_adj"),
        2.0 * p_bert,
        "bert p_adj",
    );
    close(num(row, "p_adj"), p_nope.max(2.0 * p_bert), "nope p_adj");
    // MLM loss = 4 - 3 accuracy: the same t, hence the same p-values, in its own family.
    let loss = find(&rows, "bert", "", "mlm_loss");
    close(num(loss, "p_value"), p_bert, "bert loss p-value");
    close(num(loss, "p_adj"), 2.0 * p_bert, "bert loss p_adj");

    let row = find(&rows, "deberta", "", "mlm_accuracy");
    close(num(row, "delta"), 0.0, "baseline delta");
    assert_eq!(
        num(row, "p_value"),
        None,
        "the baseline is not tested against itself"
    );
    assert_eq!((row["test"].as_str(), num(row, "p_adj")), ("", None));

    // Fine-tuning: the test scores at the best valid evaluation.
    let ft: Vec<f64> = SEEDS.iter().map(|&s| bshift_best("bert", s).0).collect();
    close(
        num(find(&rows, "bert", "", "bshift_acc"), "mean"),
        mean_std(&ft).0,
        "bshift_acc",
    );
    // Length: a skipped length has no value; one value gives no std, CI or p-value.
    let row = find(&rows, "bert", "", "len256_acc");
    close(num(row, "mean"), 0.05, "len256 mean");
    assert_eq!(row["n"], "3");
    assert!(
        rows.iter()
            .all(|r| !(r["variant"] == "nope" && r["metric"] == "len256_acc"))
    );
    // Throughput: the median of the train rows' tokens/s, then the mean over seeds.
    let medians: Vec<f64> = SEEDS.iter().map(|&s| 1000.0 * s as f64 + 55.0).collect();
    close(
        num(find(&rows, "deberta", "", "tokens_per_s"), "mean"),
        mean_std(&medians).0,
        "tokens/s",
    );

    // Variant order is the experiment's.
    let order: Vec<&str> = rows.iter().map(|r| r["variant"].as_str()).collect();
    let first = |v: &str| order.iter().position(|x| *x == v).unwrap();
    assert!(first("deberta") < first("bert") && first("bert") < first("nope"));
    assert!(root.join("summary.parquet").metadata().unwrap().len() > 100);
}

#[test]
fn unmatched_seeds_fall_back_to_welch() {
    // The baseline's seed 3 failed: bert's seed 3 has no partner (Welch); nope's seeds 1, 2 all do (paired).
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    build_with(root, |v, s| (v == "deberta" || v == "nope") && s == 3);
    let out = write_report(root).unwrap();
    let rows = summary_rows(root);
    let acc = |v: &str, seeds: &[u64]| {
        seeds
            .iter()
            .map(|&s| mlm_accuracy(v, s))
            .collect::<Vec<_>>()
    };
    let (base, bert, nope) = (
        acc("deberta", &[1, 2]),
        acc("bert", &SEEDS),
        acc("nope", &[1, 2]),
    );
    let ((mb, sb), (mr, sr)) = (mean_std(&base), mean_std(&bert));

    let row = find(&rows, "bert", "", "mlm_accuracy");
    assert_eq!(row["test"], "welch");
    close(
        num(row, "delta"),
        mr - mb,
        "Welch delta = difference of the means",
    );
    // Welch-Satterthwaite by hand.
    let (va, vb) = (sr * sr / 3.0, sb * sb / 2.0);
    let df = (va + vb).powi(2) / (va * va / 2.0 + vb * vb / 1.0);
    let t = (mr - mb) / (va + vb).sqrt();
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let p_bert = 2.0 * (1.0 - StudentsT::new(0.0, 1.0, df).unwrap().cdf(t.abs()));
    close(num(row, "p_value"), p_bert, "bert Welch p-value");

    let row = find(&rows, "nope", "", "mlm_accuracy");
    assert_eq!(row["test"], "paired_t");
    let diffs = [nope[0] - base[0], nope[1] - base[1]];
    let (md, sd) = mean_std(&diffs);
    let p_nope = 1.0 - 2.0 / std::f64::consts::PI * (md / (sd / 2f64.sqrt())).abs().atan();
    close(num(row, "p_value"), p_nope, "nope paired p-value");

    // Holm over both, whatever test gave each p-value.
    let (lo, hi) = (p_bert.min(p_nope), p_bert.max(p_nope));
    let (adj_lo, adj_hi) = ((2.0 * lo).min(1.0), hi.max((2.0 * lo).min(1.0)));
    let expect = |p: f64| if p == lo { adj_lo } else { adj_hi };
    close(
        num(find(&rows, "bert", "", "mlm_accuracy"), "p_adj"),
        expect(p_bert),
        "bert p_adj",
    );
    close(num(row, "p_adj"), expect(p_nope), "nope p_adj");

    // report.md names both tests and marks the Welch cells.
    let md = std::fs::read_to_string(&out.report_md).unwrap();
    assert!(
        md.contains("Welch's two-sided unequal-variance t-test"),
        "{md}"
    );
    assert!(md.contains("the two-sided paired t-test"), "{md}");
    let bert_row = md.lines().find(|l| l.starts_with("| bert |")).unwrap();
    assert!(bert_row.contains("(+7.00†)"), "{bert_row}");
    let nope_row = md.lines().find(|l| l.starts_with("| nope |")).unwrap();
    assert!(!nope_row.contains('†'), "{nope_row}");
}

/// Whether an SVG line is a `<line>` whose two ends are the same point.
fn zero_length_line(l: &str) -> bool {
    let attr = |name: &str| {
        l.split(&format!(" {name}=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
    };
    l.contains("<line")
        && attr("x1").is_some()
        && attr("x1") == attr("x2")
        && attr("y1") == attr("y2")
}

#[test]
fn charts_and_report_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    build(root);
    let out = write_report(root).unwrap();
    for stem in [
        "valid_loss",
        "final_metrics",
        "length",
        "throughput",
        "attention_deberta",
        "attention_bert",
        "attention_nope",
    ] {
        let png = std::fs::read(root.join(format!("charts/{stem}.png"))).unwrap();
        assert!(
            png.len() > 2000 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{stem}.png"
        );
        let svg = std::fs::read_to_string(root.join(format!("charts/{stem}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{stem}.svg"
        );
        // No zero-length line (a whisker of zero spread): it shows nothing and the rasteriser cannot stroke it.
        let zero = svg
            .lines()
            .filter(|l| zero_length_line(l))
            .collect::<Vec<_>>();
        assert!(zero.is_empty(), "{stem}.svg: {zero:?}");
        // The PNG is the SVG rasterised: same width and height (PNG IHDR, big-endian at bytes 16..24).
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let (w, h) = (be(&png[16..20]), be(&png[20..24]));
        assert!(
            svg.contains(&format!("width=\"{w}\"")) && svg.contains(&format!("height=\"{h}\"")),
            "{stem}: PNG {w}x{h}, SVG head {}",
            &svg[..svg.len().min(200)]
        );
        assert!(
            out.charts
                .contains(&root.join(format!("charts/{stem}.png")))
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [
            out.summary_csv.clone(),
            out.report_md.clone(),
            root.join("charts/length.png"),
        ] {
            assert_eq!(
                p.metadata().unwrap().permissions().mode() & 0o777,
                0o644,
                "{}",
                p.display()
            );
        }
    }

    let md = std::fs::read_to_string(&out.report_md).unwrap();
    assert!(md.starts_with("# Experiment `synthetic`"));
    assert!(md.contains("Three position schemes on made-up numbers."));
    // The baseline row: MLM loss, then MLM accuracy in percent (32.00 ± 2.00 over seeds).
    let base_row = md
        .lines()
        .find(|l| l.starts_with("| **deberta** (baseline)"))
        .expect("baseline row");
    assert!(
        base_row.contains("| 3/3 |") && base_row.contains("32.00 ± 2.00"),
        "{base_row}"
    );
    let bert_row = md
        .lines()
        .find(|l| l.starts_with("| bert |"))
        .expect("bert row");
    // Raw p = 0.035 < 0.05, but the marker follows the Holm-adjusted p = 0.070: no star. bert has the
    // best accuracy, loss and perplexity of the table, so those means are in bold.
    assert!(
        bert_row.contains("**38.00** ± 4.00 (+6.00) |"),
        "{bert_row}"
    );
    assert!(bert_row.contains("| **2.8600** ± 0.1200"), "{bert_row}");
    // Perplexity exp(4 - 3 acc): paired t = -6.92, raw p = 0.020, Holm-adjusted 0.040 (nope's is 0.143): `*`.
    assert!(
        bert_row.contains("**17.55** ± 2.10 (−3.38\\*) |"),
        "{bert_row}"
    );
    // Not the best: no bold.
    assert!(!base_row.contains("**32.00**"), "{base_row}");
    // Each chart has its paragraph, read off the same numbers.
    assert!(
        md.contains("At the end the lowest loss is `bert`'s (2.860)")
            && md.contains("Valid MLM accuracy: best `bert` (38.00%)"),
        "{md}"
    );
    assert!(!bert_row.contains('†'), "{bert_row}");
    // The note names the test and the adjustment.
    assert!(
        md.contains("the two-sided paired t-test on the per-seed differences")
            && md.contains("Holm-adjusted (Holm-Bonferroni) over the m variants compared")
            // m = 2 (bert, nope) except at 256 tokens, where nope has no value.
            && md.contains("(m = 1 to 2, by metric and grid point)"),
        "{md}"
    );
    assert!(!md.contains("Welch"), "no Welch test was used: {md}");
    let nope_row = md
        .lines()
        .find(|l| l.starts_with("| nope |"))
        .expect("nope row");
    assert!(
        nope_row.contains("| 2/3 |") && nope_row.contains("[n=2]"),
        "{nope_row}"
    );
    assert!(
        md.contains("`nope/seed-3` | failed | pretrain | non-finite loss at step 7 (lr too high?)")
    );
    for link in [
        "charts/valid_loss.png",
        "charts/final_metrics.png",
        "charts/length.png",
        "charts/attention_bert.png",
    ] {
        assert!(md.contains(&format!("]({link})")), "{link}");
    }
    // the frequency-only reference: deberta's losses 3.10, 3.04, 2.98 against 4.5; accuracies 0.30-0.34
    // against 0.05
    assert!(
        md.contains("Frequency-only reference on the same masked valid tokens: loss 4.500 nats")
            && md.contains("accuracy 5.00%")
            && md.contains("| deberta | 1.460 | 1.400 | 6.40x |"),
        "{md}"
    );
    let svg = std::fs::read_to_string(root.join("charts/valid_loss.svg")).unwrap();
    assert!(
        svg.contains("unigram (frequency only): 4.50"),
        "no reference line"
    );
    assert!(md.contains("ablate run experiments/synthetic.toml"));
    assert!(md.contains("baseline = \"deberta\""));
    assert!(md.contains(&format!("ablate report {}", root.display())));
}

#[test]
fn reports_are_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    build(root);
    write_report(root).unwrap();
    let first = (
        std::fs::read(root.join("summary.csv")).unwrap(),
        std::fs::read(root.join("report.md")).unwrap(),
        std::fs::read(root.join("charts/final_metrics.svg")).unwrap(),
    );
    write_report(root).unwrap();
    let second = (
        std::fs::read(root.join("summary.csv")).unwrap(),
        std::fs::read(root.join("report.md")).unwrap(),
        std::fs::read(root.join("charts/final_metrics.svg")).unwrap(),
    );
    assert!(first == second, "a second report differs from the first");
}

#[test]
fn a_corrupt_summary_is_named_and_the_rest_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    build(root);
    let bad = Path::new("runs/bert/seed-2/finetune/bshift/summary.json");
    std::fs::write(root.join(bad), "{ \"status\": \"completed\", ").unwrap();
    let out = write_report(root).unwrap();
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains(&bad.display().to_string())),
        "{:?}",
        out.warnings
    );
    let md = std::fs::read_to_string(&out.report_md).unwrap();
    assert!(
        md.contains(&format!("cannot read {}", bad.display())),
        "{md}"
    );
    let rows = summary_rows(root);
    assert_eq!(find(&rows, "bert", "", "bshift_acc")["n"], "2");
    assert_eq!(find(&rows, "bert", "", "mlm_accuracy")["n"], "3");

    // Not an experiment folder: an error naming experiment.json.
    std::fs::remove_file(root.join(files::EXPERIMENT_JSON)).unwrap();
    let err = format!("{:#}", write_report(root).unwrap_err());
    assert!(err.contains("experiment.json"), "{err}");
}

#[test]
fn a_grid_is_reported_per_point() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let axis = GridAxis {
        key: "optimiser.lr".into(),
        values: vec!["0.001".into(), "0.0003".into()],
    };
    json(
        &root.join(files::EXPERIMENT_JSON),
        &info(vec![axis], &["deberta", "bert"]),
    );
    for lr in ["0.001", "0.0003"] {
        let point = BTreeMap::from([("optimiser.lr".to_string(), lr.to_string())]);
        for v in ["deberta", "bert"] {
            for s in [1, 2] {
                write_run(root, v, &point, s, false);
            }
        }
    }
    let out = write_report(root).unwrap();
    let rows = summary_rows(root);
    for point in ["optimiser.lr=0.001", "optimiser.lr=0.0003"] {
        let row = find(&rows, "bert", point, "mlm_accuracy");
        assert_eq!(row["n"], "2");
        let diffs: Vec<f64> = [1, 2]
            .map(|s| mlm_accuracy("bert", s) - mlm_accuracy("deberta", s))
            .to_vec();
        close(num(row, "delta"), mean_std(&diffs).0, "delta per point");
        close(num(row, "delta"), 0.05, "delta per point");
        // One variant compared per point: m = 1, Holm leaves p as it is.
        assert_eq!(row["test"], "paired_t");
        assert_eq!(num(row, "p_adj"), num(row, "p_value"));
        assert!(num(row, "p_value").is_some());
        let png = root.join(format!("charts/valid_loss_{}.png", point.replace('=', "-")));
        assert!(
            out.charts.contains(&png),
            "{} not in {:?}",
            png.display(),
            out.charts
        );
    }
    // The cross-grid chart: every variant across both points, with its paragraph.
    let grid = root.join("charts/grid_mlm_loss.svg");
    assert!(out.charts.contains(&grid), "{:?}", out.charts);
    let svg = std::fs::read_to_string(&grid).unwrap();
    assert!(
        svg.contains("optimiser.lr=0.001") && svg.contains("optimiser.lr=0.0003"),
        "the grid points label the x axis"
    );
    let md = std::fs::read_to_string(&out.report_md).unwrap();
    assert!(md.contains("### Grid point `optimiser.lr=0.001`"));
    assert!(
        md.contains("![Valid MLM loss across the grid")
            && md.contains("Lowest loss per variant: `deberta` at `"),
        "{md}"
    );
    // Seed 3 is asked for and absent everywhere.
    assert!(
        md.contains("`bert, optimiser.lr=0.0003, seed 3` | missing"),
        "{md}"
    );
}

#[test]
fn an_experiment_with_no_runs_yet_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    json(
        &root.join(files::EXPERIMENT_JSON),
        &info(Vec::new(), &VARIANTS),
    );
    let out = write_report(root).unwrap();
    assert!(out.charts.is_empty());
    assert_eq!(summary_rows(root).len(), 0);
    let md = std::fs::read_to_string(&out.report_md).unwrap();
    assert!(md.contains("No finished results yet."));
    assert!(md.contains("`nope, seed 3` | missing"), "{md}");
    assert!(md.contains("`experiment.toml`:\n\n(absent)"));
}
