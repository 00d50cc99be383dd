//! Same seed, same batches; a saved cursor continues the exact stream; shards and splits rebuild
//! bit for bit.

mod common;

use ablate_data::{
    BatchConfig, DataCursor, DataError, MaskingConfig, MlmBatch, MlmBatcher, ReadMode, ShardConfig,
    Split, build_shards,
};
use common::{fixture, shards};

fn cfg(seed: u64) -> BatchConfig {
    BatchConfig {
        batch_size: 16,
        max_len: 64,
        seed,
        masking: MaskingConfig {
            whole_word: true,
            max_span: 3,
            ..MaskingConfig::default()
        },
        ..BatchConfig::default()
    }
}

fn take(b: &mut MlmBatcher, n: usize) -> Vec<MlmBatch> {
    (0..n).map(|_| b.next_batch().unwrap()).collect()
}

#[test]
fn same_seed_same_batches_other_seed_other_batches() {
    let set = shards();
    let a = take(&mut MlmBatcher::new(&set, Split::Train, cfg(5)).unwrap(), 6);
    let b = take(&mut MlmBatcher::new(&set, Split::Train, cfg(5)).unwrap(), 6);
    assert_eq!(a, b);
    let mmap = BatchConfig {
        read_mode: ReadMode::Mmap,
        ..cfg(5)
    };
    let c = take(&mut MlmBatcher::new(&set, Split::Train, mmap).unwrap(), 6);
    assert_eq!(a, c, "the read mode does not change the data");
    let d = take(&mut MlmBatcher::new(&set, Split::Train, cfg(6)).unwrap(), 6);
    assert_ne!(a[0].sequence_ids, d[0].sequence_ids);
    assert_ne!(a[0].input_ids, d[0].input_ids);
}

#[test]
fn a_restored_cursor_continues_the_exact_stream_across_epochs() {
    let set = shards();
    let mut whole = MlmBatcher::new(&set, Split::Train, cfg(9)).unwrap();
    let per_epoch = whole.batches_per_epoch() as usize;
    let n = per_epoch + 5; // run into the second epoch
    let all = take(&mut whole, n);
    assert_eq!(whole.cursor().epoch, 1);
    assert_eq!(whole.cursor().batches, n as u64);

    for stop in [0, 3, per_epoch - 1, per_epoch + 2] {
        let mut first = MlmBatcher::new(&set, Split::Train, cfg(9)).unwrap();
        take(&mut first, stop);
        let saved = serde_json::to_string(&first.cursor()).unwrap();
        drop(first);
        let cursor: DataCursor = serde_json::from_str(&saved).unwrap();
        let mut resumed = MlmBatcher::new(&set, Split::Train, cfg(9)).unwrap();
        resumed.restore(&cursor).unwrap();
        let rest = take(&mut resumed, n - stop);
        assert_eq!(rest, all[stop..], "resumed after {stop} batches");
    }

    // One epoch visits distinct sequences; the next epoch has another order and other masks.
    let mut seen: Vec<u64> = all[..per_epoch]
        .iter()
        .flat_map(|b| b.sequence_ids.clone())
        .collect();
    seen.sort_unstable();
    let len = seen.len();
    seen.dedup();
    assert_eq!(seen.len(), len, "a sequence came twice in one epoch");
    assert_ne!(all[0].sequence_ids, all[per_epoch].sequence_ids);
}

#[test]
fn a_cursor_from_other_settings_is_refused() {
    let set = shards();
    let mut b = MlmBatcher::new(&set, Split::Train, cfg(1)).unwrap();
    b.next_batch().unwrap();
    let cursor = b.cursor();
    let mut other = MlmBatcher::new(&set, Split::Train, cfg(2)).unwrap();
    let err = other.restore(&cursor).unwrap_err();
    assert!(matches!(err, DataError::CursorMismatch { .. }), "{err}");
    assert!(err.to_string().contains("index.json"), "{err}");
    let mut foreign = cursor.clone();
    foreign.shards = "0".repeat(32);
    assert!(matches!(
        b.restore(&foreign),
        Err(DataError::CursorMismatch { .. })
    ));
}

#[test]
fn shards_rebuild_bit_for_bit() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let cfg = ShardConfig {
        shard_tokens: 50_000,
        ..ShardConfig::default()
    };
    let out = dir.path().join("again");
    let index = build_shards(&f.corpus, &f.tokenizer, &f.split, &cfg, &out).unwrap();
    assert_eq!(&index, shards().index());
    for split in Split::ALL {
        for s in &index.split(split).shards {
            let a = std::fs::read(out.join(&s.file)).unwrap();
            let b = std::fs::read(f.shards_dir.join(&s.file)).unwrap();
            assert!(a == b, "{} differs", s.file);
        }
    }
}
