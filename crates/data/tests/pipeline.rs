//! The bundled corpus from text to MLM batches: tokenizer, shards, splits, batches, caching.

mod common;

use ablate_data::{
    BatchConfig, CacheStatus, Corpus, DataSpec, EvalBatches, IGNORE_LABEL, MaskingConfig,
    MlmBatcher, ReadMode, ShardConfig, Split, TextTokenizer, TokenDtype, TokenizerConfig,
    TokenizerModel, bundled_corpus_path, prepare, split_counts, split_passages,
};
use common::{fixture, shards, split_config, tokenizer_config, write};
use std::path::Path;

#[test]
fn bundled_corpus_has_the_documented_shape() {
    let c = Corpus::open(bundled_corpus_path()).unwrap();
    let s = c.stats();
    // SOURCES: three novels, one paragraph per line, 4,035 paragraphs, 281,603 words.
    assert_eq!(
        (s.files, s.documents, s.paragraphs, s.words),
        (1, 3, 4035, 281_603)
    );
}

#[test]
fn trained_tokenizer_has_the_special_tokens_and_loads_as_hf_json() {
    let f = fixture();
    let t = &f.tokenizer;
    assert_eq!(t.vocab_size(), tokenizer_config().vocab_size);
    let sp = t.special();
    assert_eq!((sp.pad, sp.cls, sp.sep, sp.mask, sp.unk), (0, 1, 2, 3, 4));
    // The file is the HF format: the HF loader reads it and encodes with the post-processor.
    let hf = tokenizers::Tokenizer::from_file(t.path()).unwrap();
    let enc = hf
        .encode("It is a truth universally acknowledged.", true)
        .unwrap();
    let ids = enc.get_ids();
    assert_eq!((ids[0], *ids.last().unwrap()), (sp.cls, sp.sep));
    assert_eq!(
        &ids[1..ids.len() - 1],
        t.encode("It is a truth universally acknowledged.").unwrap()
    );
    assert_eq!(
        t.decode(&t.encode("Mr. Darcy walked in.").unwrap())
            .unwrap(),
        "mr. darcy walked in."
    );
    // Continuation pieces are not word starts.
    let pieces = t.encode("unaccountableness").unwrap();
    assert!(pieces.len() > 1);
    assert!(t.word_starts()[pieces[0] as usize]);
    assert!(pieces[1..].iter().all(|p| !t.word_starts()[*p as usize]));
}

#[test]
fn shards_hold_every_split_and_reads_agree_across_modes() {
    let f = fixture();
    let set = shards();
    let idx = set.index();
    assert_eq!(idx.dtype, TokenDtype::U16);
    let counts = split_counts(&f.corpus, &f.split).unwrap();
    let total_passages: u64 = counts.values().map(|c| c.passages).sum();
    let total_words: u64 = counts.values().map(|c| c.words).sum();
    assert_eq!(total_words, f.corpus.stats().words);
    let mut shard_passages = 0;
    for split in Split::ALL {
        let s = idx.split(split);
        assert_eq!(s.counts, counts[&split], "{split}");
        assert!(s.tokens > 0, "{split} is empty");
        assert_eq!(s.shards.iter().map(|x| x.tokens).sum::<u64>(), s.tokens);
        shard_passages += s.counts.passages;
    }
    assert_eq!(shard_passages, total_passages);
    let train = idx.split(Split::Train);
    assert!(
        train.shards.len() > 2,
        "the fixture asks for small shard files"
    );
    // The held-out share is near the asked fraction.
    let held = (counts[&Split::Test].words as f64) / total_words as f64;
    assert!((held - split_config().test_fraction).abs() < 0.03, "{held}");

    let a = set.reader(Split::Train, ReadMode::Mmap).unwrap();
    let b = set.reader(Split::Train, ReadMode::Pread).unwrap();
    let start = train.shards[0].tokens - 100; // crosses into the second file
    let (mut x, mut y) = (vec![0u32; 300], vec![0u32; 300]);
    a.read(start, &mut x).unwrap();
    b.read(start, &mut y).unwrap();
    assert_eq!(x, y);
    assert!(x.iter().all(|&id| (id as usize) < idx.vocab_size));
    // The stream is the tokenised text: it starts with the first training passage.
    let first = split_passages(&f.corpus, &f.split, Split::Train)
        .next()
        .unwrap()
        .unwrap();
    let expected = set.tokenizer().encode(&first.paragraphs.join(" ")).unwrap();
    let mut head = vec![0u32; 40];
    a.read(0, &mut head).unwrap();
    assert_eq!(head, expected[..40]);
}

#[test]
fn mlm_batches_are_packed_and_masked() {
    let set = shards();
    let cfg = BatchConfig {
        batch_size: 8,
        max_len: 64,
        seed: 11,
        ..BatchConfig::default()
    };
    let mut b = MlmBatcher::new(&set, Split::Train, cfg).unwrap();
    let sp = set.tokenizer().special();
    let (mut picked, mut maskable) = (0usize, 0usize);
    for _ in 0..20 {
        let batch = b.next_batch().unwrap();
        assert_eq!((batch.batch_size, batch.seq_len), (8, 64));
        assert_eq!(batch.input_ids.len(), 8 * 64);
        assert!(
            batch.attention_mask.iter().all(|m| *m),
            "packed rows have no padding"
        );
        for r in 0..8 {
            let row = &batch.input_ids[r * 64..(r + 1) * 64];
            let labels = &batch.labels[r * 64..(r + 1) * 64];
            assert_eq!(row[0], sp.cls);
            assert_eq!(row[63], sp.sep);
            assert_eq!((labels[0], labels[63]), (IGNORE_LABEL, IGNORE_LABEL));
            maskable += labels
                .iter()
                .zip(row)
                .filter(|(l, id)| **l != IGNORE_LABEL || !sp.contains(**id))
                .count();
        }
        let from_labels: Vec<u32> = batch
            .labels
            .iter()
            .enumerate()
            .filter(|(_, l)| **l != IGNORE_LABEL)
            .map(|(i, _)| i as u32)
            .collect();
        assert_eq!(batch.masked_positions, from_labels);
        picked += batch.num_masked();
    }
    let rate = picked as f64 / maskable as f64;
    assert!((rate - 0.15).abs() < 0.01, "masked share {rate}");
}

#[test]
fn whole_word_masking_uses_the_tokenizer_pieces() {
    let set = shards();
    let cfg = BatchConfig {
        batch_size: 8,
        max_len: 128,
        masking: MaskingConfig {
            whole_word: true,
            ..MaskingConfig::default()
        },
        ..BatchConfig::default()
    };
    let starts = set.tokenizer().word_starts().to_vec();
    let sp = set.tokenizer().special();
    let mut b = MlmBatcher::new(&set, Split::Train, cfg.clone()).unwrap();
    let mut seen_pieces = 0;
    for _ in 0..10 {
        let batch = b.batch_at(0, 0).unwrap();
        // Labels hold the original ids of masked positions, so the text is recoverable.
        for i in 1..batch.input_ids.len() {
            let orig = |k: usize| {
                if batch.labels[k] != IGNORE_LABEL {
                    batch.labels[k] as u32
                } else {
                    batch.input_ids[k]
                }
            };
            if i % batch.seq_len == 0 || sp.contains(orig(i - 1)) || sp.contains(orig(i)) {
                continue;
            }
            if !starts[orig(i) as usize] {
                seen_pieces += 1;
                assert_eq!(
                    batch.labels[i] != IGNORE_LABEL,
                    batch.labels[i - 1] != IGNORE_LABEL,
                    "a word piece was masked apart from its word"
                );
            }
        }
        b.next_batch().unwrap();
    }
    assert!(seen_pieces > 50, "the text has continuation pieces");
}

#[test]
fn eval_batches_cover_the_split_once_with_fixed_masks() {
    let set = shards();
    let cfg = BatchConfig {
        batch_size: 16,
        max_len: 128,
        ..BatchConfig::default()
    };
    let a: Vec<_> = EvalBatches::new(&set, Split::Valid, &cfg)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let b: Vec<_> = EvalBatches::new(&set, Split::Valid, &cfg)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(a, b);
    let rows: usize = a.iter().map(|x| x.batch_size).sum();
    let tokens = set.index().split(Split::Valid).tokens as usize;
    assert_eq!(rows, tokens / 126);
    let ids: Vec<u64> = a.iter().flat_map(|x| x.sequence_ids.clone()).collect();
    assert_eq!(ids, (0..rows as u64).collect::<Vec<_>>());
}

#[test]
fn tokenizer_cache_reuses_a_trained_tokenizer() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let small = write(
        dir.path(),
        "small.txt",
        &std::fs::read(bundled_corpus_path()).unwrap()[..200_000],
    );
    let corpus = Corpus::open(&small).unwrap();
    let cfg = TokenizerConfig {
        vocab_size: 800,
        ..TokenizerConfig::default()
    };
    let cache = dir.path().join("cache");
    let (a, s1) = TextTokenizer::cached(&corpus, &f.split, &cfg, &cache).unwrap();
    let (b, s2) = TextTokenizer::cached(&corpus, &f.split, &cfg, &cache).unwrap();
    assert_eq!((s1, s2), (CacheStatus::Built, CacheStatus::Reused));
    assert_eq!(a.fingerprint(), b.fingerprint());
    // A trained WordPiece vocabulary is numbered canonically: specials 0..4, then pieces in byte
    // order, so retraining gives the same file whenever the trainer picks the same pieces.
    let pieces: Vec<String> = (5..a.vocab_size() as u32)
        .map(|id| a.id_to_token(id).unwrap())
        .collect();
    assert!(
        pieces.windows(2).all(|w| w[0] < w[1]),
        "pieces are not in byte order"
    );
    let other = TokenizerConfig {
        vocab_size: 900,
        ..cfg.clone()
    };
    let (c, s3) = TextTokenizer::cached(&corpus, &f.split, &other, &cache).unwrap();
    assert_eq!(s3, CacheStatus::Built);
    assert_ne!(a.fingerprint(), c.fingerprint());
}

#[test]
fn bpe_and_unigram_tokenizers_train_and_mark_word_starts() {
    let dir = tempfile::tempdir().unwrap();
    let small = write(
        dir.path(),
        "small.txt",
        &std::fs::read(bundled_corpus_path()).unwrap()[..150_000],
    );
    let corpus = Corpus::open(&small).unwrap();
    for model in [TokenizerModel::Bpe, TokenizerModel::Unigram] {
        let cfg = TokenizerConfig {
            model,
            vocab_size: 700,
            ..TokenizerConfig::default()
        };
        let path = dir.path().join(format!("{model:?}.json"));
        let t = TextTokenizer::train(&corpus, &split_config(), &cfg, &path).unwrap();
        assert_eq!(t.vocab_size(), 700, "{model:?}");
        assert_eq!(t.special().mask, 3);
        let ids = t.encode("the unaccountable gentleman").unwrap();
        let words = ids.iter().filter(|i| t.word_starts()[**i as usize]).count();
        assert_eq!(
            words,
            3,
            "{model:?}: {:?}",
            ids.iter().map(|i| t.id_to_token(*i)).collect::<Vec<_>>()
        );
        assert_eq!(
            t.decode(&ids).unwrap().trim(),
            "the unaccountable gentleman"
        );
        assert!(tokenizers::Tokenizer::from_file(&path).is_ok());
    }
}

/// The first 300 kB of the bundled corpus, written under `dir`, with a 1,000-token vocabulary.
fn small_spec(dir: &Path) -> DataSpec {
    let small = write(
        dir,
        "small.txt",
        &std::fs::read(bundled_corpus_path()).unwrap()[..300_000],
    );
    DataSpec {
        corpus: Some(small),
        tokenizer: TokenizerConfig {
            vocab_size: 1000,
            ..TokenizerConfig::default()
        },
        shards: ShardConfig::default(),
        ..DataSpec::default()
    }
}

#[test]
fn prepare_builds_once_then_reuses() {
    let dir = tempfile::tempdir().unwrap();
    let spec = small_spec(dir.path());
    let cache = dir.path().join("cache");
    let a = prepare(&spec, &cache).unwrap();
    assert_eq!(
        (a.tokenizer_status, a.shards_status),
        (CacheStatus::Built, CacheStatus::Built)
    );
    let b = prepare(&spec, &cache).unwrap();
    assert_eq!(
        (b.tokenizer_status, b.shards_status),
        (CacheStatus::Reused, CacheStatus::Reused)
    );
    assert_eq!(a.shards.index(), b.shards.index());
    let given = DataSpec {
        tokenizer_file: Some(a.shards.tokenizer().path().to_path_buf()),
        ..spec
    };
    let c = prepare(&given, &cache).unwrap();
    assert_eq!(
        c.shards.index().tokenizer_fingerprint,
        a.shards.index().tokenizer_fingerprint
    );
}

/// Processes of `ablate run --jobs N` prepare the same fresh cache at once: each must get the data, one
/// building it and the others reusing it (before the cache lock, a second run failed with "this tokenizer is
/// not the one the shards were built with").
#[test]
fn concurrent_prepares_of_one_fresh_cache_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let spec = small_spec(dir.path());
    let cache = dir.path().join("cache");
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| prepare(&spec, &cache))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let prepared: Vec<_> = results.into_iter().map(|r| r.unwrap()).collect();
    let built = prepared
        .iter()
        .filter(|p| p.shards_status == CacheStatus::Built)
        .count();
    assert_eq!(built, 1, "exactly one preparation builds the shards");
    for p in &prepared[1..] {
        assert_eq!(p.shards.index(), prepared[0].shards.index());
    }
}
