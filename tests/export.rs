//! `ablate export` end to end: tiny `ablate train` runs exported as HF folders; `ablate encode` on the export
//! gives the hidden states the lab computes for the run; an EMD run warns that its decoder is dropped; a Shaw
//! run is refused naming the scheme; an existing --out is refused unless --force; a damaged checkpoint is
//! named (its checksums) and nothing is written.

mod common;

use std::path::{Path, PathBuf};

use ablate_model::{EncoderInput, MaskedPositions};
use burn::tensor::{Int, Tensor, TensorData};
use common::{ablate, cache, text};

type B = burn::backend::Flex;

const IDS: [[i64; 7]; 2] = [[1, 57, 300, 12, 99, 45, 2], [1, 8, 9, 10, 11, 12, 2]];

/// A finished tiny pre-training run of `preset` under `dir`.
fn train(dir: &Path, preset: &str) -> PathBuf {
    let spec = dir.join(format!("{preset}.toml"));
    std::fs::write(
        &spec,
        format!(
            r#"
steps = 2
batch_size = 4
eval_every = 2
eval_batches = 1
checkpoint_every = 2
log_every = 1
seed = 1

[model]
preset = "{preset}"
hidden_size = 32
num_hidden_layers = 2
num_attention_heads = 2
intermediate_size = 64
max_position_embeddings = 64

[data]
max_len = 32

[data.tokenizer]
vocab_size = 500

[data.split]
valid_fraction = 0.03
test_fraction = 0.1

[optimiser]
lr = 3e-3
warmup_steps = 1
"#
        ),
    )
    .unwrap();
    let run = dir.join(format!("run-{preset}"));
    let o = ablate(&[
        "train",
        spec.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--cache",
        &cache(),
        "--no-progress-bar",
    ]);
    assert!(o.status.success(), "train {preset}: {}", text(&o));
    run
}

fn export(run: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "export",
        "--from",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ablate(&args)
}

fn read_npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    (npy.shape().to_vec(), npy.into_vec::<f32>().unwrap())
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The lab's last hidden state and MLM logits (every position) for [`IDS`] under the run's checkpoint.
fn lab_outputs(run: &Path) -> (Vec<f32>, Vec<f32>) {
    let device = Default::default();
    let opened = ablate_train::PretrainedRun::open(run).unwrap();
    let mlm = opened.load_mlm::<B>(&device).unwrap();
    let flat: Vec<i64> = IDS.iter().flatten().copied().collect();
    let input = EncoderInput::unmasked(Tensor::<B, 2, Int>::from_data(
        TensorData::new(flat, [2, 7]),
        &device,
    ));
    let hidden = mlm.model.forward(&input, false).last_hidden_state;
    let every = MaskedPositions::new(vec![(0..7).collect(); 2]).unwrap();
    let logits = mlm.forward(&input, &every, false).logits;
    let v = |t: Tensor<B, 3>| t.into_data().convert::<f32>().to_vec().unwrap();
    (v(hidden), v(logits))
}

/// Exports `run`, checks the folder, and compares `ablate encode` on it with the lab's hidden states.
fn export_and_encode(tmp: &Path, run: &Path, name: &str) -> String {
    let out = tmp.join("hf").join(name);
    let o = export(run, &out, &[]);
    let log = text(&o);
    assert!(o.status.success(), "{name}: {log}");
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        assert!(out.join(f).is_file(), "{name}: no {f}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(tmp.join("hf"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let tc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tokenizer_config.json")).unwrap())
            .unwrap();
    assert_eq!(tc["tokenizer_class"], "PreTrainedTokenizerFast");
    assert_eq!(tc["mask_token"], "[MASK]");
    assert_eq!(tc["cls_token"], "[CLS]");
    assert_eq!(tc["model_max_length"], 64);
    assert_eq!(
        std::fs::read(out.join("tokenizer.json")).unwrap(),
        std::fs::read(run.join("tokenizer.json")).unwrap()
    );

    let ids = tmp.join("ids.json");
    std::fs::write(&ids, serde_json::to_string(&IDS).unwrap()).unwrap();
    let h = tmp.join(format!("{name}.npy"));
    let o = ablate(&[
        "encode",
        "--checkpoint",
        out.to_str().unwrap(),
        "--ids",
        ids.to_str().unwrap(),
        "--out",
        h.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{name}: encode: {}", text(&o));
    let (shape, got) = read_npy(&h);
    assert_eq!(shape, vec![2, 7, 32]);
    let (want, logits) = lab_outputs(run);
    let d = max_abs_diff(&got, &want);
    eprintln!("{name}: encode vs lab max abs diff {d:e}");
    assert!(d <= 1e-6, "{name}: hidden states differ by {d}");

    // the lab's logits, as check_hf_export.py asks for them
    let l = tmp.join(format!("{name}-logits.npy"));
    let o = ablate(&[
        "export",
        "--from",
        run.to_str().unwrap(),
        "--logits-ids",
        ids.to_str().unwrap(),
        "--logits-out",
        l.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{name}: logits: {}", text(&o));
    let (shape, got) = read_npy(&l);
    assert_eq!(shape, vec![2, 7, 500]);
    assert!(max_abs_diff(&got, &logits) <= 1e-6, "{name}: logits");
    log
}

#[test]
fn exported_runs_encode_as_the_lab_computes() {
    let tmp = tempfile::tempdir().unwrap();
    let bert = train(tmp.path(), "bert");
    let log = export_and_encode(tmp.path(), &bert, "bert");
    assert!(!log.contains("Enhanced Mask Decoder"), "{log}");
    let config = std::fs::read_to_string(tmp.path().join("hf/bert/config.json")).unwrap();
    assert!(config.contains("\"BertForMaskedLM\""), "{config}");

    let deberta = train(tmp.path(), "deberta");
    let log = export_and_encode(tmp.path(), &deberta, "deberta");
    assert!(log.contains("warning:"), "{log}");
    assert!(log.contains("Enhanced Mask Decoder"), "{log}");
    assert!(log.contains("MLM predictions will differ"), "{log}");

    // an existing --out is refused, kept as it was, and replaced with --force
    let out = tmp.path().join("hf/bert");
    let before = std::fs::read(out.join("config.json")).unwrap();
    let o = export(&deberta, &out, &[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--force"), "{}", text(&o));
    assert_eq!(std::fs::read(out.join("config.json")).unwrap(), before);
    let o = export(&deberta, &out, &["--force"]);
    assert!(o.status.success(), "{}", text(&o));
    let config = std::fs::read_to_string(out.join("config.json")).unwrap();
    assert!(config.contains("deberta-v2"), "{config}");
    // --force never replaces a folder that is not an HF model
    let other = tmp.path().join("notes");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "keep").unwrap();
    let o = export(&deberta, &other, &["--force"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("config.json"), "{}", text(&o));
    assert!(other.join("notes.txt").is_file());
    // an empty folder is fine
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = export(&bert, &empty, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(empty.join("model.safetensors").is_file());
}

#[test]
fn a_shaw_run_is_refused_naming_the_scheme() {
    let tmp = tempfile::tempdir().unwrap();
    let run = train(tmp.path(), "shaw");
    let out = tmp.path().join("hf-shaw");
    let o = export(&run, &out, &[]);
    assert!(!o.status.success());
    let msg = text(&o);
    assert!(msg.contains("shaw") && msg.contains("retrain"), "{msg}");
    assert!(!msg.contains("panicked"), "{msg}");
    assert!(!out.exists());
    // not a run folder at all
    let o = export(tmp.path(), &out, &[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("spec.resolved.toml"), "{}", text(&o));
}

#[test]
fn a_damaged_checkpoint_is_named_and_nothing_is_exported() {
    let tmp = tempfile::tempdir().unwrap();
    let run = train(tmp.path(), "bert");
    let ckpt = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("ckpt-")
        })
        .unwrap();
    let model = ckpt.join("model.mpk");
    let mut bytes = std::fs::read(&model).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&model, bytes).unwrap();
    let out = tmp.path().join("hf-bert");
    let o = export(&run, &out, &[]);
    let msg = text(&o);
    assert!(!o.status.success(), "{msg}");
    assert!(
        msg.contains("model.mpk") && msg.contains("checksums.json") && !msg.contains("panicked"),
        "{msg}"
    );
    assert!(!out.exists());
}
