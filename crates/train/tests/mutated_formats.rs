//! Property-based tests of the binary formats the lab writes and reads back: a token-shard folder
//! (`index.json` and the shard files) and a checkpoint's `model.mpk` (MessagePack, read past its checksums so
//! that the decoder itself sees the damage). Valid files mutated at random (bytes flipped, inserted, deleted,
//! the file cut short; 2,000 cases per format, more with `PROPTEST_CASES`) and arbitrary bytes never make a
//! reader panic, every error names the file or folder it read, and no single allocation made while reading
//! exceeds a bound far above what the valid file needs (a size field in a damaged file must not make a reader
//! ask for gigabytes).

mod common;

use std::path::{Path, PathBuf};

use ablate_data::{BatchConfig, MlmBatcher, ReadMode, ShardSet, Split};
use ablate_model::MlmModel;
use ablate_train::checkpoint;
use common::*;
use proptest::prelude::*;

#[path = "../../../tests/support/largest_alloc.rs"]
mod largest_alloc;
#[path = "../../../tests/support/mutations.rs"]
mod mutations;

use largest_alloc::{ALLOCATION_BOUND, measured};

#[global_allocator]
static ALLOC: largest_alloc::Tracking = largest_alloc::Tracking;

/// Mutated copies of `seed` (mostly) and arbitrary bytes.
fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    mutations::mutated(seed, 6, 512)
}

fn config() -> ProptestConfig {
    mutations::config(2000)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

/// A tiny pre-training run (two checkpoints), its shard folder and its latest checkpoint, made once.
fn fixture() -> &'static (PathBuf, PathBuf) {
    static RUN: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    RUN.get_or_init(|| {
        let _serial = serial();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mutated-formats-run");
        let _ = std::fs::remove_dir_all(&dir);
        let spec = tiny_spec(
            "steps = 4\ncheckpoint_every = 2\neval_every = 2\neval_batches = 1\n[optimiser]\nwarmup_steps = 1",
        );
        ablate_train::pretrain::<Train>(&spec, &dir, &Default::default(), &options()).unwrap();
        let shards = ablate_train::prepare_data(&spec, &cache_dir()).unwrap();
        let (_, ckpt) = checkpoint::latest(&dir).unwrap().unwrap();
        (shards.dir().to_path_buf(), ckpt)
    })
}

/// Reads a shard folder the way training does: open, every split's reader, a few batches.
fn read_shards(dir: &Path) -> Result<u64, String> {
    let set = ShardSet::open(dir).map_err(|e| e.to_string())?;
    let mut total = 0;
    for split in [Split::Train, Split::Valid, Split::Test] {
        let reader = set
            .reader(split, ReadMode::Pread)
            .map_err(|e| e.to_string())?;
        let mut ids = vec![0u32; reader.len().min(1 << 16) as usize];
        reader.read(0, &mut ids).map_err(|e| e.to_string())?;
        total += ids.len() as u64;
    }
    let cfg = BatchConfig {
        batch_size: 4,
        max_len: 32,
        ..BatchConfig::default()
    };
    let mut batcher = MlmBatcher::new(&set, Split::Train, cfg).map_err(|e| e.to_string())?;
    for _ in 0..3 {
        batcher.next_batch().map_err(|e| e.to_string())?;
    }
    Ok(total)
}

#[test]
fn mutated_token_shards_and_index_never_panic_and_are_named() {
    let (shards, _) = fixture();
    let files: Vec<String> = std::fs::read_dir(shards)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "tokenizer.json")
        .collect();
    assert!(
        files.iter().any(|n| n == "index.json") && files.len() >= 2,
        "{files:?}"
    );
    let seeds: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|n| (n.clone(), std::fs::read(shards.join(n)).unwrap()))
        .collect();
    let (valid, valid_alloc) = measured(|| read_shards(shards));
    assert!(valid.is_ok(), "{valid:?}");
    let strategy = (0..seeds.len()).prop_flat_map(move |i| {
        let (name, bytes) = seeds[i].clone();
        mutated(bytes).prop_map(move |b| (name.clone(), b))
    });
    proptest!(config(), |((name, bytes) in strategy)| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("shards");
        copy_dir(shards, &dir);
        std::fs::write(dir.join(&name), &bytes).unwrap();
        let (result, largest) = measured(|| read_shards(&dir));
        prop_assert!(
            largest <= ALLOCATION_BOUND.max(4 * valid_alloc),
            "{name}: reading allocated {largest} bytes at once (the valid folder: {valid_alloc})"
        );
        if let Err(e) = result {
            prop_assert!(e.contains(&dir.display().to_string()), "{name}: the error names no file of the folder: {e}");
        }
    });
}

#[test]
fn mutated_checkpoint_records_never_panic_and_are_named() {
    let (_, ckpt) = fixture();
    let spec = tiny_spec("");
    let device = Default::default();
    let fresh = || MlmModel::<Cpu>::new(&spec.model.config, &device).unwrap();
    let (valid, valid_alloc) = measured(|| checkpoint::load_model(fresh(), ckpt, &device));
    assert!(valid.is_ok(), "{:?}", valid.err());
    let seed = std::fs::read(ckpt.join("model.mpk")).unwrap();
    proptest!(config(), |(bytes in mutated(seed.clone()))| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(ckpt.file_name().unwrap());
        copy_dir(ckpt, &dir);
        std::fs::write(dir.join("model.mpk"), &bytes).unwrap();
        // past the checksums: the MessagePack reader itself gets the damaged bytes
        ablate_train::checksum::write(&dir).unwrap();
        let (result, largest) = measured(|| checkpoint::load_model(fresh(), &dir, &device));
        prop_assert!(
            largest <= ALLOCATION_BOUND.max(4 * valid_alloc),
            "reading allocated {largest} bytes at once (the valid file: {valid_alloc})"
        );
        if let Err(e) = result {
            let e = e.to_string();
            prop_assert!(e.contains(&dir.display().to_string()), "the error names no file: {e}");
        }
    });
}

/// Found by the property test: burn's record reader panics (`expect("Invalid id.")`) on a parameter id that is
/// not base32; the checkpoint loader reports it as the file's error instead.
#[test]
fn a_damaged_parameter_id_is_an_error_not_a_panic() {
    let (_, ckpt) = fixture();
    let spec = tiny_spec("");
    let device = Default::default();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(ckpt.file_name().unwrap());
    copy_dir(ckpt, &dir);
    let mut bytes = std::fs::read(dir.join("model.mpk")).unwrap();
    // MessagePack: the key "id" (fixstr a2 'i' 'd'), then its value, a fixstr (0xa0 | len) of base32 text
    let at = bytes
        .windows(4)
        .position(|w| w[..3] == [0xa2, b'i', b'd'] && w[3] & 0xe0 == 0xa0 && w[3] & 0x1f > 0)
        .expect("model.mpk holds a parameter id");
    bytes[at + 4] = b'!';
    std::fs::write(dir.join("model.mpk"), &bytes).unwrap();
    ablate_train::checksum::write(&dir).unwrap();
    let model = MlmModel::<Cpu>::new(&spec.model.config, &device).unwrap();
    let err = checkpoint::load_model(model, &dir, &device)
        .expect_err("an invalid parameter id is refused")
        .to_string();
    assert!(
        err.contains(&dir.display().to_string()) && err.contains("model.mpk is damaged"),
        "{err}"
    );
}
