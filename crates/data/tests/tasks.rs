//! Task sets from held-out text: balance, provenance, determinism, length sets.

mod common;

use std::collections::HashSet;
use std::path::Path;

use ablate_data::tasks::{
    TaskExample, TaskKind, TaskOptions, TasksReport, build_tasks, encode_examples, read_examples,
    read_sequences,
};
use ablate_data::{Masker, MaskingConfig, MlmBatch, Split, split_passages};
use common::{fixture, shards, write};

fn fake_wordnet(dir: &Path) {
    write(dir, "index.noun", b"run n 1 0\nship n 1 0\nbook n 1 0\n");
    write(dir, "index.verb", b"run v 1 0\nship v 1 0\nbook v 1 0\n");
    write(dir, "verb.exc", b"ran run\n");
    write(
        dir,
        "data.noun",
        b"00000001 04 n 01 run 0 000 | a score; \"he made a run\"; \"a good run of luck\"\n00000002 06 n 01 book 0 000 | a text; \"she read the book twice\"\n",
    );
    write(
        dir,
        "data.verb",
        b"00000003 38 v 01 run 0 000 | move fast; \"she ran home\"\n00000004 35 v 01 book 0 000 | reserve; \"we booked a table\"\n",
    );
}

fn build(out: &Path, wordnet: &Path) -> TasksReport {
    let opts = TaskOptions {
        lengths: vec![64, 128, 256],
        wordnet_dir: wordnet.to_path_buf(),
        ..TaskOptions::default()
    };
    build_tasks(&fixture().shards_dir, out, &opts).unwrap()
}

#[test]
fn task_sets_come_from_held_out_text_balanced_and_deterministic() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let wn = dir.path().join("wn");
    std::fs::create_dir(&wn).unwrap();
    fake_wordnet(&wn);
    let out = dir.path().join("tasks");
    let report = build(&out, &wn);

    let held_out: String = split_passages(&f.corpus, &f.split, Split::Test)
        .map(|p| p.unwrap().text())
        .collect::<Vec<_>>()
        .join("\n");
    let train_text: HashSet<String> = split_passages(&f.corpus, &f.split, Split::Train)
        .flat_map(|p| p.unwrap().paragraphs)
        .collect();
    assert_eq!(
        report.held_out.words as usize,
        held_out.split_whitespace().count()
    );

    for name in ["bshift", "sent_order"] {
        let r = report.tasks.iter().find(|t| t.name == name).unwrap();
        let total: u64 = r.splits.values().map(|s| s.examples).sum();
        assert!(total > 100, "{name}: only {total} examples");
        for (split, bal) in &r.splits {
            assert!(
                bal.examples > 5,
                "{name}/{split} has {} examples",
                bal.examples
            );
            let counts: Vec<u64> = bal.per_label.values().copied().collect();
            assert!(
                counts[0].abs_diff(counts[1]) <= 1,
                "{name}/{split} unbalanced: {counts:?}"
            );
            let examples = read_examples(&out.join(name).join(format!("{split}.jsonl"))).unwrap();
            assert_eq!(examples.len() as u64, bal.examples);
            for e in &examples {
                // Originals and in-order pairs are held-out text verbatim.
                if e.label == if name == "bshift" { 0 } else { 1 } {
                    assert!(
                        held_out.contains(&e.text_a),
                        "{name}: not held out: {}",
                        e.text_a
                    );
                    assert!(
                        !train_text
                            .iter()
                            .any(|p| p.contains(&e.text_a) && e.text_a.len() > 60)
                    );
                }
            }
        }
    }

    let wn_report = report
        .tasks
        .iter()
        .find(|t| t.name == "wn_pos_context")
        .unwrap();
    let wn_total: u64 = wn_report.splits.values().map(|s| s.examples).sum();
    assert_eq!(wn_total, 5);

    assert_eq!(report.lenext.len(), 3);
    for l in &report.lenext {
        for split in ["valid", "test"] {
            let rows = read_sequences(&out.join(&l.name).join(format!("{split}.jsonl"))).unwrap();
            assert_eq!(rows.len() as u64, l.splits[split].sequences);
            assert!(rows.iter().all(|r| r.len() == l.max_len));
            let sp = shards().tokenizer().special();
            assert!(
                rows.iter()
                    .all(|r| r[0] == sp.cls && r[l.max_len - 1] == sp.sep)
            );
        }
    }
    assert!(report.lenext[0].splits["test"].sequences > report.lenext[2].splits["test"].sequences);

    // Evaluation masks depend on the row, not on how rows are batched.
    let rows = read_sequences(&out.join("lenext_128/test.jsonl")).unwrap();
    let masker = Masker::new(MaskingConfig::default(), shards().tokenizer()).unwrap();
    let refs: Vec<&[u32]> = rows.iter().take(8).map(|r| r.as_slice()).collect();
    let whole = MlmBatch::mask_eval_rows(&refs, &masker, 3, 0).unwrap();
    let a = MlmBatch::mask_eval_rows(&refs[..4], &masker, 3, 0).unwrap();
    let b = MlmBatch::mask_eval_rows(&refs[4..], &masker, 3, 4).unwrap();
    assert_eq!(whole.input_ids, [a.input_ids, b.input_ids].concat());
    assert_eq!(whole.labels, [a.labels, b.labels].concat());
    assert!(whole.num_masked() > 8 * 126 / 10);

    // Built again: identical files.
    let again = dir.path().join("again");
    let report2 = build(&again, &wn);
    assert_eq!(report, report2);
    for name in ["bshift", "sent_order", "wn_pos_context", "lenext_64"] {
        for split in ["valid", "test"] {
            let a = std::fs::read(out.join(name).join(format!("{split}.jsonl"))).unwrap();
            let b = std::fs::read(again.join(name).join(format!("{split}.jsonl"))).unwrap();
            assert!(a == b, "{name}/{split} differs between builds");
        }
    }
}

#[test]
fn examples_encode_into_padded_pair_batches() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tasks");
    let opts = TaskOptions {
        tasks: vec![TaskKind::SentOrder],
        ..TaskOptions::default()
    };
    build_tasks(&fixture().shards_dir, &out, &opts).unwrap();
    let ex = read_examples(&out.join("sent_order/train.jsonl")).unwrap();
    let tok = shards().tokenizer().clone();
    let batch = encode_examples(&tok, &ex[..8], 48).unwrap();
    let sp = tok.special();
    assert_eq!(batch.batch_size, 8);
    assert!(batch.seq_len <= 48);
    for (r, e) in ex[..8].iter().enumerate() {
        let row = &batch.input_ids[r * batch.seq_len..(r + 1) * batch.seq_len];
        let types = &batch.token_type_ids[r * batch.seq_len..(r + 1) * batch.seq_len];
        let mask = &batch.attention_mask[r * batch.seq_len..(r + 1) * batch.seq_len];
        let len = mask.iter().filter(|m| **m).count();
        assert_eq!(row[0], sp.cls);
        assert_eq!(row.iter().filter(|t| **t == sp.sep).count(), 2);
        assert_eq!(row[len - 1], sp.sep);
        assert!(row[len..].iter().all(|t| *t == sp.pad));
        assert_eq!(types[len - 1], 1);
        assert_eq!(types[1], 0);
        assert_eq!(batch.labels[r], e.label as i64);
        assert_eq!(batch.marked[r], -1);
    }

    // A marked word maps to the column of its first piece.
    let marked = TaskExample {
        text_a: "Yesterday she ran home quickly.".into(),
        text_b: Some("ran".into()),
        label: 1,
        span: Some((14, 17)),
    };
    let b = encode_examples(&tok, &[marked], 32).unwrap();
    let col = b.marked[0] as usize;
    assert_eq!(tok.decode(&b.input_ids[col..col + 1]).unwrap(), "ran");
}
