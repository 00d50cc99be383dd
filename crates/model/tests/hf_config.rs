//! HF config.json mapping: every attention key, HF's defaults, both spellings of pos_att_type.

use std::path::Path;

use ablate_model::hf::model_config_from_hf;
use ablate_model::position::{PosAttType, PositionScheme};
use ablate_model::{HiddenAct, ModelConfig};

fn map(json: &str) -> ModelConfig {
    model_config_from_hf(json, Path::new("config.json")).unwrap()
}

fn terms(cfg: &ModelConfig) -> Vec<PosAttType> {
    match &cfg.position {
        PositionScheme::Deberta(d) => d.pos_att_type.clone(),
        other => panic!("not deberta: {other:?}"),
    }
}

const SIZES: &str = r#""vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32"#;

#[test]
fn pos_att_type_spellings_agree() {
    use PosAttType::*;
    let a = map(&format!(
        r#"{{{SIZES}, "relative_attention": true, "pos_att_type": "p2c|c2p"}}"#
    ));
    let b = map(&format!(
        r#"{{{SIZES}, "relative_attention": true, "pos_att_type": ["P2C", " c2p "]}}"#
    ));
    assert_eq!(terms(&a), vec![P2c, C2p]);
    assert_eq!(terms(&a), terms(&b));
    // Empty entries and p2p are ignored, as HF's DeBERTa-v2 ignores them.
    let c = map(&format!(
        r#"{{{SIZES}, "relative_attention": true, "pos_att_type": ["", "p2p", "c2p"]}}"#
    ));
    assert_eq!(terms(&c), vec![C2p]);
    let d = map(&format!(
        r#"{{{SIZES}, "relative_attention": true, "pos_att_type": null}}"#
    ));
    assert!(terms(&d).is_empty());
}

#[test]
fn hf_defaults_apply_to_absent_keys() {
    let cfg = map(&format!(
        r#"{{{SIZES}, "relative_attention": true, "extra_key": [1, 2]}}"#
    ));
    let PositionScheme::Deberta(d) = &cfg.position else {
        panic!()
    };
    assert_eq!(
        d.max_relative_positions, 512,
        "-1 means max_position_embeddings (512)"
    );
    assert_eq!(d.position_buckets, 0);
    assert!(!d.share_att_key && !d.norm_rel_ebd);
    assert!(
        cfg.position_biased_input,
        "HF's default is position_biased_input = true"
    );
    assert_eq!(cfg.layer_norm_eps, 1e-7);
    assert_eq!(cfg.type_vocab_size, 0);
    assert_eq!(cfg.hidden_act, HiddenAct::Gelu);
    // No relative attention: absolute positions if biased input, else none.
    let abs = map(&format!("{{{SIZES}}}"));
    assert!(matches!(abs.position, PositionScheme::Absolute(_)));
    assert!(!abs.position_biased_input);
    let nope = map(&format!(r#"{{{SIZES}, "position_biased_input": false}}"#));
    assert!(matches!(nope.position, PositionScheme::Nope));
}

#[test]
fn v3_keys_map() {
    let cfg = map(&format!(
        r#"{{{SIZES}, "relative_attention": true, "pos_att_type": "p2c|c2p", "max_relative_positions": -1,
            "position_buckets": 256, "share_att_key": true, "norm_rel_ebd": "layer_norm",
            "position_biased_input": false, "hidden_act": "gelu_new", "layer_norm_eps": 1e-5, "type_vocab_size": 2}}"#
    ));
    let PositionScheme::Deberta(d) = &cfg.position else {
        panic!()
    };
    assert_eq!((d.max_relative_positions, d.position_buckets), (512, 256));
    assert!(d.share_att_key && d.norm_rel_ebd);
    assert!(!cfg.position_biased_input);
    assert_eq!(cfg.hidden_act, HiddenAct::GeluTanh);
    assert_eq!((cfg.layer_norm_eps, cfg.type_vocab_size), (1e-5, 2));
}

#[test]
fn unsupported_and_bad_values_name_the_key() {
    let err = |json: String| {
        model_config_from_hf(&json, Path::new("ckpt/config.json"))
            .unwrap_err()
            .to_string()
    };
    let e = err(format!(r#"{{{SIZES}, "conv_kernel_size": 3}}"#));
    assert!(
        e.contains("conv_kernel_size") && e.contains("ckpt/config.json"),
        "{e}"
    );
    let e = err(format!(r#"{{{SIZES}, "hidden_act": "mish"}}"#));
    assert!(e.contains("hidden_act") && e.contains("mish"), "{e}");
    let e = err(format!(
        r#"{{{SIZES}, "relative_attention": true, "pos_att_type": ["c2x"]}}"#
    ));
    assert!(e.contains("c2x"), "{e}");
    let e = err(format!(r#"{{{SIZES}, "relative_attention": "yes"}}"#));
    assert!(e.contains("relative_attention"), "{e}");
    let e = err(r#"{"hidden_size": 10, "num_attention_heads": 3}"#.to_string());
    assert!(e.contains("hidden_size"), "{e}");
    let e = err("[1, 2]".to_string());
    assert!(e.contains("JSON object"), "{e}");
}

#[test]
fn a_config_too_large_for_its_weights_is_refused_before_the_model_is_built() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hf/c2p_only");
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    let device = Default::default();
    type B = burn::backend::Flex;
    assert!(ablate_model::hf::load_checkpoint::<B>(dir.path(), &device).is_ok());
    let config = dir.path().join("config.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    // 10^9 x hidden word-embedding values: gigabytes that a 100 kB weights file cannot hold.
    json["vocab_size"] = serde_json::json!(1_000_000_000u64);
    std::fs::write(&config, json.to_string()).unwrap();
    let err = ablate_model::hf::load_checkpoint::<B>(dir.path(), &device)
        .expect_err("a damaged vocab_size is refused")
        .to_string();
    assert!(
        err.contains("config.json") && err.contains("do not belong together"),
        "{err}"
    );
}
