//! Property-based tests of the readers of outside input: valid files mutated at random (bytes flipped,
//! inserted, deleted, the file cut short; proptest, 2,000 cases per reader, more with `PROPTEST_CASES`) and
//! arbitrary bytes never make a reader panic, every error names the file it read, and no single allocation a
//! reader makes exceeds 256 MiB (a size field in a damaged file must not make it ask for more; see
//! `support/largest_alloc.rs`).
//! Readers: experiment TOML, run spec, model config, HF `config.json` + `model.safetensors` +
//! `pytorch_model.bin` (the whole file, and its pickle mutated inside a well-formed zip), ids JSON,
//! `tokenizer.json`, `metrics.csv`, `run.json`.

mod common;
#[path = "support/largest_alloc.rs"]
mod largest_alloc;
#[path = "support/mutations.rs"]
mod mutations;

use largest_alloc::{ALLOCATION_BOUND, measured};

#[global_allocator]
static ALLOC: largest_alloc::Tracking = largest_alloc::Tracking;

use std::path::{Path, PathBuf};

use proptest::prelude::*;

type Cpu = burn::backend::Flex;

/// Mutated copies of `seed` and arbitrary bytes.
fn inputs(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    mutations::mutated(seed, 4, 256)
}

fn config() -> ProptestConfig {
    mutations::config(2000)
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs `f` (one reader call) and fails the case if it made a single allocation over [`ALLOCATION_BOUND`].
fn bounded<T>(what: &Path, f: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    let (out, largest) = measured(f);
    prop_assert!(
        largest <= ALLOCATION_BOUND,
        "reading {} allocated {largest} bytes at once",
        what.display()
    );
    Ok(out)
}

/// Asserts that an error message names `path` (its file name at least).
fn names(err: &str, path: &Path) -> Result<(), TestCaseError> {
    let name = path.file_name().unwrap().to_string_lossy();
    prop_assert!(
        err.contains(name.as_ref()),
        "the error does not name {name}: {err}"
    );
    Ok(())
}

const RUN_SPEC: &str = r#"
seed = 1
steps = 10
batch_size = 4
[model]
hidden_size = 32
num_hidden_layers = 1
num_attention_heads = 2
intermediate_size = 64
max_position_embeddings = 64
[data]
max_len = 32
[data.tokenizer]
vocab_size = 500
[optimiser]
warmup_steps = 2
"#;

const TOKENIZER: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,
"model":{"type":"WordLevel","vocab":{"[PAD]":0,"[CLS]":1,"[SEP]":2,"[MASK]":3,"[UNK]":4,"the":5,"cat":6},
"unk_token":"[UNK]"}}"#;

const METRICS: &str = "kind,step,lr,loss,grad_norm,tokens_per_s,elapsed_s,eval_loss,eval_accuracy,eval_ppl\n\
train,10,0.001,7.5,1.2,5000.0,3.5,,,\neval,10,,,,,3.6,7.1,0.05,1200.0\n";

#[test]
fn experiment_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exp.toml");
    std::fs::write(&path, common::TINY).unwrap();
    assert!(ablate_runner::experiment::spec::parse(&path).is_ok());
    proptest!(config(), |(bytes in inputs(common::TINY.as_bytes().to_vec()))| {
        std::fs::write(&path, &bytes).unwrap();
        match bounded(&path, || ablate_runner::experiment::spec::parse(&path))? {
            Err(p) => prop_assert_eq!(&p.file, &path),
            Ok(exp) => {
                if let Err(p) = ablate_runner::experiment::plan::expand(&exp) {
                    prop_assert_eq!(&p.file, &path);
                }
            }
        }
    });
}

#[test]
fn run_specs_and_model_configs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.toml");
    std::fs::write(&path, RUN_SPEC).unwrap();
    ablate_train::RunSpec::from_toml_file(&path).unwrap();
    proptest!(config(), |(bytes in inputs(RUN_SPEC.as_bytes().to_vec()))| {
        std::fs::write(&path, &bytes).unwrap();
        if let Err(e) = bounded(&path, || ablate_train::RunSpec::from_toml_file(&path))? {
            names(&e.to_string(), &path)?;
        }
        // The model section alone, as `[model]` text.
        let text = String::from_utf8_lossy(&bytes).replace("[model]", "");
        let _ = ablate_model::ModelConfig::from_toml_str(&text);
    });
}

/// A copy of an HF fixture folder with `file` replaced by `bytes`; the load must not panic and must name the
/// file (or config.json) when it fails.
fn hf_case(fixture_dir: &str, file: &str) {
    let src = fixture(fixture_dir);
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let device = Default::default();
    assert!(ablate_model::hf::load::load_checkpoint::<Cpu>(dir.path(), &device).is_ok());
    let seed = std::fs::read(src.join(file)).unwrap();
    let target = dir.path().join(file);
    proptest!(config(), |(bytes in inputs(seed.clone()))| {
        std::fs::write(&target, &bytes).unwrap();
        hf_load(dir.path(), &target)?;
    });
}

/// Loads the HF folder `dir` (whose `target` was changed): bounded, and an error names a file.
fn hf_load(dir: &Path, target: &Path) -> Result<(), TestCaseError> {
    let device = Default::default();
    let load = || ablate_model::hf::load::load_checkpoint::<Cpu>(dir, &device);
    // A changed config.json can surface as a shape mismatch in the weights file: either is named.
    if let Err(e) = bounded(target, load)? {
        let e = e.to_string();
        prop_assert!(
            ["config.json", "model.safetensors", "pytorch_model.bin"]
                .iter()
                .any(|f| e.contains(f)),
            "{e}"
        );
    }
    Ok(())
}

/// `pytorch_model.bin` rewritten as a well-formed zip (every checksum right) whose `data.pkl` is `pickle`: a
/// mutated pickle then reaches the pickle readers instead of stopping at the zip's checksum.
fn repack(seed: &[u8], pickle: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(seed)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().to_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.start_file(name.as_str(), stored).unwrap();
        out.write_all(if name.ends_with("data.pkl") {
            pickle
        } else {
            &bytes
        })
        .unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[test]
fn hf_config_json() {
    hf_case("tests/fixtures/hf/c2p_only", "config.json");
}

#[test]
fn hf_safetensors() {
    hf_case("tests/fixtures/hf/c2p_only", "model.safetensors");
}

#[test]
fn hf_pytorch_model_bin() {
    hf_case("tests/fixtures/hf/p2c_buckets_bin", "pytorch_model.bin");
}

#[test]
fn hf_pytorch_model_bin_pickle() {
    let src = fixture("tests/fixtures/hf/p2c_buckets_bin");
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let target = dir.path().join("pytorch_model.bin");
    let seed = std::fs::read(&target).unwrap();
    let pickle = {
        use std::io::Read;
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&seed)).unwrap();
        let mut bytes = Vec::new();
        archive
            .by_name("pytorch_model/data.pkl")
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    };
    // The repacked but unchanged file loads.
    std::fs::write(&target, repack(&seed, &pickle)).unwrap();
    let device = Default::default();
    assert!(ablate_model::hf::load::load_checkpoint::<Cpu>(dir.path(), &device).is_ok());
    proptest!(config(), |(bytes in inputs(pickle.clone()))| {
        std::fs::write(&target, repack(&seed, &bytes)).unwrap();
        hf_load(dir.path(), &target)?;
    });

    // Random mutations seldom make a shape large: one made by hand. The word embeddings' shape (97, 32),
    // `K 97` in the pickle, becomes (3 * 2^20, 32) floats, 384 MiB, in a file of about 100 KB.
    let small = b"K\x61K\x20\x86";
    let at = pickle
        .windows(5)
        .position(|w| w == small)
        .expect("the shape (97, 32) in data.pkl");
    let mut big = pickle[..at].to_vec();
    big.extend_from_slice(b"J\x00\x00\x30\x00K\x20\x86");
    big.extend_from_slice(&pickle[at + 5..]);
    std::fs::write(&target, repack(&seed, &big)).unwrap();
    let (loaded, largest) =
        measured(|| ablate_model::hf::load::load_checkpoint::<Cpu>(dir.path(), &device));
    let e = match loaded {
        Ok(_) => panic!("a shape past the file's size was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("pytorch_model.bin") && e.contains("embeddings.word_embeddings.weight"),
        "{e}"
    );
    assert!(
        largest <= ALLOCATION_BOUND,
        "allocated {largest} bytes at once"
    );
}

#[test]
fn ids_json() {
    let seed = std::fs::read(fixture("tests/fixtures/hf/c2p_only/ids.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ids.json");
    proptest!(config(), |(bytes in inputs(seed.clone()))| {
        std::fs::write(&path, &bytes).unwrap();
        if let Err(e) = bounded(&path, || ablate_runner::encode::read_ids(&path, 128))? {
            names(&format!("{e:#}"), &path)?;
        }
    });
}

#[test]
fn tokenizer_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, TOKENIZER).unwrap();
    ablate_data::TextTokenizer::load(&path).unwrap();
    proptest!(config(), |(bytes in inputs(TOKENIZER.as_bytes().to_vec()))| {
        std::fs::write(&path, &bytes).unwrap();
        match bounded(&path, || ablate_data::TextTokenizer::load(&path))? {
            Err(e) => names(&e.to_string(), &path)?,
            Ok(t) => {
                let _ = t.encode("the cat sat");
            }
        }
    });
}

#[test]
fn metrics_csv_and_run_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.csv");
    std::fs::write(&path, METRICS).unwrap();
    type Row = ablate_train::metrics::PretrainRow;
    assert_eq!(
        ablate_train::metrics::read_rows::<Row>(&path)
            .unwrap()
            .len(),
        2
    );
    let record = dir.path().join("run.json");
    let rec = br#"{"id":"bert/seed-1","variant":"bert","seed":1,"grid":{},"status":"completed","failure":null,"stage_seconds":{"pretrain":1.5}}"#;
    std::fs::write(&record, rec).unwrap();
    assert!(
        ablate_runner::experiment::sweep::read_record(dir.path())
            .unwrap()
            .is_some()
    );
    proptest!(config(), |(bytes in inputs(METRICS.as_bytes().to_vec()), rbytes in inputs(rec.to_vec()))| {
        std::fs::write(&path, &bytes).unwrap();
        if let Err(e) = bounded(&path, || ablate_train::metrics::read_rows::<Row>(&path))? {
            names(&e.to_string(), &path)?;
        }
        std::fs::write(&record, &rbytes).unwrap();
        if let Err(e) = bounded(&record, || ablate_runner::experiment::sweep::read_record(dir.path()))? {
            names(&format!("{e:#}"), &record)?;
        }
    });
}
