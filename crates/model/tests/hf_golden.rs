//! Golden tests: the lab's model loaded from small random HF DeBERTa-v2 checkpoints reproduces HF
//! transformers' last hidden state at max abs diff <= 1e-4. Fixtures come from scripts/make_hf_golden.py.
//!
//! The original fixtures use 40 tokens, longer than the relative span (or bucketed), so c2p/p2c take the gather
//! path; the `band_*` fixtures stay within the span without buckets, so they take the band path
//! (`position::band`), which [`band_path_taken`] checks. A fixture with `mask.json` has padded rows: the mask is
//! fed to the model and only real tokens are compared (HF's values at padded positions are not meaningful).

use std::path::{Path, PathBuf};

use ablate_model::hf::load_checkpoint;
use ablate_model::position::{PositionInputs, Positions};
use ablate_model::{EncoderInput, Model};
use burn::tensor::{Int, Tensor, TensorData};

type B = burn::backend::Flex;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/hf")
        .join(name)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn max_abs_diff(name: &str) -> f32 {
    let dir = fixture(name);
    let device = Default::default();
    let (model, _) = load_checkpoint::<B>(&dir, &device).unwrap_or_else(|e| panic!("{name}: {e}"));
    let ids: Vec<Vec<i64>> = read_json(&dir.join("ids.json"));
    let expected: serde_json::Value = read_json(&dir.join("expected.json"));
    let (rows, len) = (ids.len(), ids[0].len());
    let mask: Vec<Vec<f32>> = if dir.join("mask.json").is_file() {
        read_json(&dir.join("mask.json"))
    } else {
        vec![vec![1.0; len]; rows]
    };
    assert_eq!(
        (mask.len(), mask[0].len()),
        (rows, len),
        "{name}: mask shape"
    );
    let flat: Vec<i64> = ids.into_iter().flatten().collect();
    let mut input = EncoderInput::unmasked(Tensor::<B, 2, Int>::from_data(
        TensorData::new(flat, [rows, len]),
        &device,
    ));
    let mask: Vec<f32> = mask.into_iter().flatten().collect();
    input.attention_mask = Tensor::from_data(TensorData::new(mask.clone(), [rows, len]), &device);
    let out = model.forward(&input, false).last_hidden_state;
    let shape: Vec<usize> = serde_json::from_value(expected["shape"].clone()).unwrap();
    assert_eq!(out.dims().to_vec(), shape, "{name}: output shape");
    let hidden = shape[2];
    let want: Vec<f32> = serde_json::from_value(expected["data"].clone()).unwrap();
    let got: Vec<f32> = out.into_data().to_vec().unwrap();
    assert_eq!(got.len(), want.len(), "{name}: element count");
    let d = got
        .iter()
        .zip(&want)
        .enumerate()
        .filter(|(i, _)| mask[i / hidden] != 0.0)
        .map(|(_, (g, w))| (g - w).abs())
        .fold(0.0, f32::max);
    eprintln!("{name}: max abs diff {d:e}");
    d
}

/// Whether c2p and p2c take the band path for `n` tokens: what `Model::forward` builds for a batch of `n`.
fn band_path_taken(model: &Model<B>, n: usize) -> (bool, bool) {
    match model.position_inputs(&Positions::square(n), &Default::default()) {
        PositionInputs::Deberta(inputs) => (inputs.c2p_band.is_some(), inputs.p2c_band.is_some()),
        _ => panic!("not a DeBERTa model"),
    }
}

/// The band fixture `name`: c2p and p2c take the band path at the fixture's length, and no longer once the
/// sequence passes the span (the first clipped distance), then the output matches HF.
fn band_fixture_matches_hf(name: &str) {
    let dir = fixture(name);
    let (model, config) = load_checkpoint::<B>(&dir, &Default::default()).unwrap();
    let ids: Vec<Vec<i64>> = read_json(&dir.join("ids.json"));
    let n = ids[0].len();
    let span = match &config.position {
        ablate_model::PositionScheme::Deberta(c) => {
            assert_eq!(c.position_buckets, 0, "{name}: bucketed");
            c.max_relative_positions
        }
        other => panic!("{name}: {other:?}"),
    };
    assert!(n <= span, "{name}: {n} tokens, span {span}");
    assert_eq!(
        band_path_taken(&model, n),
        (true, true),
        "{name}: band path at {n} tokens"
    );
    assert_eq!(
        band_path_taken(&model, span + 1),
        (false, false),
        "{name}: gather path at {} tokens",
        span + 1
    );
    let d = max_abs_diff(name);
    assert!(d <= 1e-4, "max abs diff {d}");
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
fn band_c2p_p2c_matches_hf() {
    band_fixture_matches_hf("band_c2p_p2c");
}

#[test]
fn band_shared_matches_hf() {
    band_fixture_matches_hf("band_shared");
}

#[test]
fn relative_fixtures_of_40_tokens_take_the_gather_path() {
    for name in ["v3_like", "v1_like", "c2p_only", "p2c_buckets_bin"] {
        let (model, _) = load_checkpoint::<B>(&fixture(name), &Default::default()).unwrap();
        assert_eq!(band_path_taken(&model, 40), (false, false), "{name}");
    }
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
