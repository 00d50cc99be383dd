//! Golden tests: the lab's model loaded from small random HF DeBERTa-v2 checkpoints reproduces HF
//! transformers' last hidden state at max abs diff <= 1e-4. Fixtures come from scripts/make_hf_golden.py.

use std::path::{Path, PathBuf};

use ablate_model::EncoderInput;
use ablate_model::hf::load_checkpoint;
use burn::tensor::{Int, Tensor, TensorData};

type B = burn::backend::Flex;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hf")
        .join(name)
}

fn max_abs_diff(name: &str) -> f32 {
    let dir = fixture(name);
    let device = Default::default();
    let (model, _) = load_checkpoint::<B>(&dir, &device).unwrap_or_else(|e| panic!("{name}: {e}"));
    let ids: Vec<Vec<i64>> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("ids.json")).unwrap()).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let (rows, len) = (ids.len(), ids[0].len());
    let flat: Vec<i64> = ids.into_iter().flatten().collect();
    let input = Tensor::<B, 2, Int>::from_data(TensorData::new(flat, [rows, len]), &device);
    let out = model
        .forward(&EncoderInput::unmasked(input), false)
        .last_hidden_state;
    let shape: Vec<usize> = serde_json::from_value(expected["shape"].clone()).unwrap();
    assert_eq!(out.dims().to_vec(), shape, "{name}: output shape");
    let want: Vec<f32> = serde_json::from_value(expected["data"].clone()).unwrap();
    let got: Vec<f32> = out.into_data().to_vec().unwrap();
    assert_eq!(got.len(), want.len(), "{name}: element count");
    let d = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f32::max);
    eprintln!("{name}: max abs diff {d:e}");
    d
}

#[test]
fn v3_like_matches_hf() {
    let d = max_abs_diff("v3_like");
    assert!(d <= 1e-4, "max abs diff {d}");
}

#[test]
fn v1_like_matches_hf() {
    let d = max_abs_diff("v1_like");
    assert!(d <= 1e-4, "max abs diff {d}");
}

#[test]
fn c2p_only_matches_hf() {
    let d = max_abs_diff("c2p_only");
    assert!(d <= 1e-4, "max abs diff {d}");
}

#[test]
fn absolute_matches_hf() {
    let d = max_abs_diff("absolute");
    assert!(d <= 1e-4, "max abs diff {d}");
}

#[test]
fn pytorch_bin_with_buckets_matches_hf() {
    let d = max_abs_diff("p2c_buckets_bin");
    assert!(d <= 1e-4, "max abs diff {d}");
}

#[test]
fn missing_tensor_is_named() {
    let tmp = std::env::temp_dir().join(format!("ablate-missing-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let src = fixture("c2p_only");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    // Ask for p2c too: the checkpoint has no pos_query_proj.
    config["pos_att_type"] = serde_json::json!(["c2p", "p2c"]);
    std::fs::write(tmp.join("config.json"), config.to_string()).unwrap();
    std::fs::copy(src.join("model.safetensors"), tmp.join("model.safetensors")).unwrap();
    let err = load_checkpoint::<B>(&tmp, &Default::default())
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&tmp).ok();
    assert!(err.contains("missing tensor"), "{err}");
    assert!(
        err.contains("deberta.encoder.layer.0.attention.self.pos_query_proj.weight"),
        "{err}"
    );
}

#[test]
fn shape_mismatch_is_named() {
    let tmp = std::env::temp_dir().join(format!("ablate-shape-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let src = fixture("c2p_only");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    config["intermediate_size"] = serde_json::json!(48);
    std::fs::write(tmp.join("config.json"), config.to_string()).unwrap();
    std::fs::copy(src.join("model.safetensors"), tmp.join("model.safetensors")).unwrap();
    let err = load_checkpoint::<B>(&tmp, &Default::default())
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&tmp).ok();
    assert!(err.contains("intermediate.dense"), "{err}");
}

#[test]
fn missing_weights_and_bad_config_are_clear() {
    let tmp = std::env::temp_dir().join(format!("ablate-noweights-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::copy(
        fixture("absolute").join("config.json"),
        tmp.join("config.json"),
    )
    .unwrap();
    let err = load_checkpoint::<B>(&tmp, &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no model.safetensors or pytorch_model.bin"),
        "{err}"
    );
    std::fs::write(tmp.join("config.json"), r#"{"hidden_size": "big"}"#).unwrap();
    let err = load_checkpoint::<B>(&tmp, &Default::default())
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&tmp).ok();
    assert!(
        err.contains("hidden_size") && err.contains("integer"),
        "{err}"
    );
}
