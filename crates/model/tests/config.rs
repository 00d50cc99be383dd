//! Typed configs: presets, overrides, rejected conflicts and unknown keys.

use ablate_model::position::{PosAttType, PositionScheme};
use ablate_model::{MlmDecoder, ModelConfig, Preset};

fn table(text: &str) -> toml::Table {
    text.parse().unwrap()
}

#[test]
fn every_preset_validates_and_round_trips_through_toml() {
    for p in Preset::ALL {
        let cfg = p.config();
        cfg.validate().unwrap_or_else(|e| panic!("{p:?}: {e}"));
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(ModelConfig::from_toml_str(&text).unwrap(), cfg, "{p:?}");
        assert_eq!(Preset::parse(&p.name()).unwrap(), p);
    }
}

#[test]
fn ablation_rows_differ_as_the_paper_says() {
    let deberta = Preset::Deberta.config();
    assert_eq!(deberta.decoder, MlmDecoder::Emd);
    let PositionScheme::Deberta(d) = &Preset::DebertaNoEmdNoC2p.config().position else {
        panic!()
    };
    assert_eq!(d.pos_att_type, vec![PosAttType::P2c]);
    assert_eq!(
        Preset::DebertaNoEmdNoC2p.config().decoder,
        MlmDecoder::Plain
    );
    assert!(Preset::DebertaAp.config().position_biased_input);
    assert_eq!(Preset::DebertaAp.config().decoder, MlmDecoder::Plain);
}

#[test]
fn overrides_merge_into_the_preset() {
    let cfg = Preset::Deberta
        .config_with(&table(
            "hidden_size = 128\nposition = { max_relative_positions = 64 }",
        ))
        .unwrap();
    assert_eq!(cfg.hidden_size, 128);
    let PositionScheme::Deberta(d) = &cfg.position else {
        panic!()
    };
    assert_eq!(d.max_relative_positions, 64);
    assert_eq!(
        d.pos_att_type,
        vec![PosAttType::C2p, PosAttType::P2c],
        "other keys kept"
    );
    // A different kind replaces the scheme.
    let cfg = Preset::Deberta
        .config_with(&table(
            "position = { kind = \"shaw\" }\ndecoder = \"plain\"",
        ))
        .unwrap();
    assert!(matches!(cfg.position, PositionScheme::Shaw(_)));
}

#[test]
fn unknown_keys_and_bad_values_are_rejected_with_the_key() {
    let err = Preset::Bert
        .config_with(&table("hiden_size = 3"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("hiden_size"), "{err}");
    let err = Preset::Deberta
        .config_with(&table("position = { pos_att_type = [\"c2x\"] }"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("c2x"), "{err}");
    let err = Preset::Shaw
        .config_with(&table("position = { kind = \"warp\" }"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("warp"), "{err}");
    for bad in ["0.0", "-0.02", "nan", "inf"] {
        let err = Preset::Bert
            .config_with(&table(&format!("initializer_range = {bad}")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("initializer_range"), "{bad}: {err}");
    }
    let cfg = Preset::Bert
        .config_with(&table("initializer_range = 0.05"))
        .unwrap();
    assert_eq!(cfg.initializer_range, 0.05);
    assert_eq!(Preset::Bert.config().initializer_range, 0.02);
    let err = Preset::parse("roberta").unwrap_err().to_string();
    assert!(
        err.contains("roberta") && err.contains("deberta-no-emd"),
        "{err}"
    );
}

#[test]
fn conflicts_are_rejected_when_the_config_is_built() {
    let cases = [
        (
            Preset::Bert,
            "position_biased_input = true",
            "position_biased_input",
        ),
        (
            Preset::Nope,
            "position_biased_input = true",
            "position_biased_input",
        ),
        (Preset::Bert, "hidden_size = 250", "hidden_size"),
        (
            Preset::Deberta,
            "position = { pos_att_type = [\"c2p\", \"c2p\"] }",
            "pos_att_type",
        ),
        (
            Preset::Deberta,
            "position = { position_buckets = 300, max_relative_positions = 128 }",
            "position_buckets",
        ),
        (
            Preset::Shaw,
            "position = { max_relative_position = 0 }",
            "max_relative_position",
        ),
        (
            Preset::Bert,
            "hidden_dropout_prob = 1.5",
            "hidden_dropout_prob",
        ),
        (
            Preset::Rope,
            "attention_head_size = 5",
            "attention_head_size",
        ),
        (Preset::Rope, "position = { base = 0.5 }", "position.base"),
        (
            Preset::T5,
            "position = { num_buckets = 7 }",
            "position.num_buckets",
        ),
        (
            Preset::T5,
            "position = { max_distance = 4 }",
            "position.max_distance",
        ),
        (
            Preset::Fire,
            "position = { mlp_width = 0 }",
            "position.mlp_width",
        ),
        (
            Preset::Fire,
            "position = { init_c = 0.0 }",
            "position.init_c",
        ),
        (Preset::Alibi, "position = { slope = 1 }", "position"),
        (
            Preset::Fire,
            "position = { normaliser = \"key\" }",
            "position",
        ),
    ];
    for (preset, over, key) in cases {
        let err = preset.config_with(&table(over)).unwrap_err();
        assert!(err.key.contains(key), "{over}: {err}");
    }
}

#[test]
fn emd_is_rejected_where_the_official_code_would_skip_it_or_positions_would_leak() {
    for (overrides, expect) in [
        ("position_biased_input = true", "position_biased_input"),
        ("position = { kind = \"absolute\" }", "absolute scheme"),
        ("position = { kind = \"nope\" }", "no-position control"),
    ] {
        let err = Preset::Deberta
            .config_with(&table(overrides))
            .expect_err(overrides)
            .to_string();
        assert!(
            err.contains("decoder") && err.contains(expect) && err.contains("decoder = \"plain\""),
            "{overrides}: {err}"
        );
        // with the plain decoder the same model is fine
        let plain = format!("{overrides}\ndecoder = \"plain\"");
        Preset::Deberta.config_with(&table(&plain)).unwrap();
    }
    for kind in ["shaw", "xl", "deberta", "alibi", "rope", "t5", "fire"] {
        let text = format!("position = {{ kind = \"{kind}\" }}");
        Preset::Deberta.config_with(&table(&text)).unwrap();
    }
}

#[test]
fn the_new_schemes_parse_from_their_keys() {
    let cfg = Preset::Bert
        .config_with(&table(
            "position = { kind = \"fire\", mlp_width = 16, direction = false, normaliser = \"query\" }",
        ))
        .unwrap();
    let PositionScheme::Fire(f) = &cfg.position else {
        panic!("{cfg:?}")
    };
    assert_eq!((f.mlp_width, f.direction), (16, false));
    let cfg = Preset::Bert
        .config_with(&table("position = { kind = \"rope\", base = 500.0 }"))
        .unwrap();
    assert_eq!(
        cfg.position,
        PositionScheme::Rope(ablate_model::position::RopeConfig { base: 500.0 })
    );
    let cfg = Preset::Rope
        .config_with(&table("position_biased_input = true"))
        .unwrap();
    assert!(
        cfg.has_learned_positions(),
        "RoPE with learned absolute positions on top"
    );
    for (kind, name) in [("alibi", "alibi"), ("t5", "t5")] {
        let cfg = Preset::Bert
            .config_with(&table(&format!("position = {{ kind = \"{kind}\" }}")))
            .unwrap();
        assert_eq!(cfg.position.name(), name);
        assert!(
            !cfg.has_learned_positions(),
            "{kind}: no positions at the input"
        );
    }
    // the conflict message lists every scheme that acts inside attention
    let err = Preset::Nope
        .config_with(&table("position_biased_input = true"))
        .unwrap_err()
        .to_string();
    for name in ["shaw", "xl", "deberta", "alibi", "rope", "t5", "fire"] {
        assert!(err.contains(name), "{name} missing from: {err}");
    }
}
