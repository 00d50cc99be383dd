//! Export to an HF folder and back: every exportable preset, built small with every parameter random, is
//! exported, loaded back through `load_checkpoint` and gives the same last hidden state (padding included) and,
//! through the `cls.predictions.*` tensors, the same MLM logits as the plain head; `config.json` holds exactly
//! HF's keys; what HF cannot represent is refused naming the feature.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use ablate_model::config::MlmDecoder;
use ablate_model::hf::{EMD_WARNING, HfArch, export_model, hf_config, load_checkpoint};
use ablate_model::norm::LayerNorm;
use ablate_model::position::{P2cIndex, PosAttType, PositionScheme};
use ablate_model::{EncoderInput, HiddenAct, MlmModel, ModelConfig, Preset};
use burn::module::{Module, Param};
use burn::tensor::{Int, Tensor, TensorData};
use burn_store::{ModuleStore, SafetensorsStore};
use common::{B, Randomise, vals};

const EXPORTABLE: [Preset; 10] = [
    Preset::Bert,
    Preset::Nope,
    Preset::Deberta,
    Preset::DebertaNoEmd,
    Preset::DebertaAp,
    Preset::DebertaNoC2p,
    Preset::DebertaNoP2c,
    Preset::DebertaNoEmdNoC2p,
    Preset::DebertaNoEmdNoP2c,
    Preset::DebertaV3,
];

/// The refused presets and a word their message must hold.
const REFUSED: [(Preset, &str); 6] = [
    (Preset::Shaw, "shaw"),
    (Preset::Xl, "Transformer-XL"),
    (Preset::Alibi, "ALiBi"),
    (Preset::Rope, "RoPE"),
    (Preset::T5, "T5"),
    (Preset::Fire, "FIRE"),
];

fn small(preset: Preset) -> ModelConfig {
    ModelConfig {
        vocab_size: 50,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 64,
        max_position_embeddings: 64,
        ..preset.config()
    }
}

/// Three rows of 12 random ids; rows 1 and 2 end in 4 and 7 padding positions.
fn input(vocab: usize) -> EncoderInput<B> {
    let device = Default::default();
    let (rows, len) = (3, 12);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let ids: Vec<i64> = (0..rows * len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % vocab as u64) as i64
        })
        .collect();
    let real = [len, len - 4, len - 7];
    let mask: Vec<f32> = (0..rows * len)
        .map(|i| if i % len < real[i / len] { 1.0 } else { 0.0 })
        .collect();
    let mut input = EncoderInput::unmasked(Tensor::<B, 2, Int>::from_data(
        TensorData::new(ids, [rows, len]),
        &device,
    ));
    input.attention_mask = Tensor::from_data(TensorData::new(mask, [rows, len]), &device);
    input
}

fn max_abs_diff(a: Vec<f32>, b: Vec<f32>) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A tensor of the exported file, by HF name.
fn read<const D: usize>(file: &Path, name: &str) -> Tensor<B, D> {
    let mut store = SafetensorsStore::from_file(file);
    let snap = store
        .get_snapshot(name)
        .unwrap()
        .unwrap_or_else(|| panic!("{name} is not in {}", file.display()));
    Tensor::from_data(snap.to_data().unwrap(), &Default::default())
}

/// HF's MLM head from the exported `cls.predictions.*` tensors (PyTorch layout) on `hidden`.
fn hf_head(file: &Path, cfg: &ModelConfig, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, n, d] = hidden.dims();
    let w = read::<2>(file, "cls.predictions.transform.dense.weight");
    let h = hidden.reshape([b * n, d]).matmul(w.transpose())
        + read::<1>(file, "cls.predictions.transform.dense.bias").unsqueeze();
    let ln = LayerNorm {
        gamma: Param::from_tensor(read(file, "cls.predictions.transform.LayerNorm.weight")),
        beta: Some(Param::from_tensor(read(
            file,
            "cls.predictions.transform.LayerNorm.bias",
        ))),
        epsilon: cfg.layer_norm_eps,
    };
    let h = ln.forward(cfg.hidden_act.forward(h));
    let decoder = read::<2>(file, "cls.predictions.decoder.weight");
    let bias = read::<1>(file, "cls.predictions.decoder.bias");
    assert_eq!(
        vals(bias.clone()),
        vals(read::<1>(file, "cls.predictions.bias"))
    );
    let logits = h.matmul(decoder.transpose()) + bias.unsqueeze();
    let vocab = logits.dims()[1];
    logits.reshape([b, n, vocab])
}

#[test]
fn every_exportable_preset_round_trips() {
    let device = Default::default();
    for preset in Preset::ALL {
        let cfg = small(preset);
        let exportable = hf_config(&cfg).is_ok();
        assert_eq!(
            exportable,
            EXPORTABLE.contains(&preset),
            "{}",
            preset.name()
        );
        if !exportable {
            continue;
        }
        let mlm = MlmModel::<B>::new(&cfg, &device)
            .unwrap()
            .map(&mut Randomise::default());
        let dir = tempfile::tempdir().unwrap();
        let hf = export_model(&mlm, dir.path()).unwrap();
        let (loaded, loaded_cfg) = load_checkpoint::<B>(dir.path(), &device)
            .unwrap_or_else(|e| panic!("{}: {e}", preset.name()));
        let want_cfg = ModelConfig {
            decoder: MlmDecoder::Plain,
            type_vocab_size: if hf.arch == HfArch::Bert {
                cfg.type_vocab_size.max(1)
            } else {
                cfg.type_vocab_size
            },
            ..cfg.clone()
        };
        assert_eq!(loaded_cfg, want_cfg, "{}: config", preset.name());

        let x = input(cfg.vocab_size);
        let want = mlm.model.forward(&x, false).last_hidden_state;
        let got = loaded.forward(&x, false).last_hidden_state;
        let d = max_abs_diff(vals(want.clone()), vals(got.clone()));
        eprintln!("{}: hidden max abs diff {d:e}", preset.name());
        assert!(d <= 1e-6, "{}: hidden states differ by {d}", preset.name());

        let words = mlm.model.embeddings.word_embeddings.weight.val();
        let lab_logits = mlm.lm_head.forward(want, words);
        let file = dir.path().join("model.safetensors");
        let hf_logits = hf_head(&file, &loaded_cfg, got);
        let d = max_abs_diff(vals(lab_logits), vals(hf_logits));
        assert!(d <= 1e-5, "{}: MLM logits differ by {d}", preset.name());
    }
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// The keys every export writes, and those of each architecture (written out, not derived from the code).
const COMMON: &str = "architectures model_type vocab_size hidden_size num_hidden_layers num_attention_heads \
    intermediate_size hidden_act hidden_dropout_prob attention_probs_dropout_prob max_position_embeddings \
    initializer_range layer_norm_eps type_vocab_size pad_token_id";
const DEBERTA: &str = "relative_attention max_relative_positions position_buckets share_att_key norm_rel_ebd \
    pos_att_type position_biased_input legacy";
const BERT: &str = "position_embedding_type";

fn key_set(lists: &[&str]) -> BTreeSet<String> {
    lists
        .iter()
        .flat_map(|l| l.split_whitespace())
        .map(str::to_owned)
        .collect()
}

#[test]
fn config_json_holds_exactly_hf_keys() {
    let deberta_keys = key_set(&[COMMON, DEBERTA]);
    let bert_keys = key_set(&[COMMON, BERT]);
    let d = hf_config(&small(Preset::Deberta)).unwrap();
    assert_eq!(d.arch, HfArch::DebertaV2);
    assert_eq!(keys(&d.json), deberta_keys);
    let want = serde_json::json!({
        "model_type": "deberta-v2", "architectures": ["DebertaV2ForMaskedLM"], "vocab_size": 50,
        "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 64, "initializer_range": 0.02, "layer_norm_eps": 1e-7,
        "type_vocab_size": 0, "pad_token_id": 0, "relative_attention": true, "max_relative_positions": 128,
        "position_buckets": -1, "share_att_key": false, "norm_rel_ebd": "none",
        "pos_att_type": ["c2p", "p2c"], "position_biased_input": false, "legacy": true,
    });
    assert_eq!(d.json, want);
    assert_eq!(d.warnings, vec![EMD_WARNING.to_owned()]);

    let v3 = hf_config(&small(Preset::DebertaV3)).unwrap();
    assert_eq!(keys(&v3.json), deberta_keys);
    let mut want_v3 = want.clone();
    for (k, v) in [
        ("max_relative_positions", serde_json::json!(512)),
        ("position_buckets", serde_json::json!(256)),
        ("share_att_key", serde_json::json!(true)),
        ("norm_rel_ebd", serde_json::json!("layer_norm")),
    ] {
        want_v3[k] = v;
    }
    assert_eq!(v3.json, want_v3);
    assert!(v3.warnings.is_empty());

    let mut head = small(Preset::DebertaNoEmd);
    head.attention_head_size = Some(16);
    let h = hf_config(&head).unwrap();
    assert_eq!(h.json["attention_head_size"], 16);
    assert_eq!(keys(&h.json).len(), deberta_keys.len() + 1);

    let b = hf_config(&small(Preset::Bert)).unwrap();
    assert_eq!(b.arch, HfArch::Bert);
    assert_eq!(keys(&b.json), bert_keys);
    assert_eq!(
        b.json,
        serde_json::json!({
            "model_type": "bert", "architectures": ["BertForMaskedLM"], "vocab_size": 50, "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64,
            "initializer_range": 0.02, "layer_norm_eps": 1e-7, "type_vocab_size": 1, "pad_token_id": 0,
            "position_embedding_type": "absolute",
        })
    );

    let n = hf_config(&small(Preset::Nope)).unwrap();
    assert_eq!(n.json["relative_attention"], false);
    assert_eq!(n.json["position_biased_input"], false);
    assert_eq!(n.json["pos_att_type"], serde_json::json!([]));
}

#[test]
fn tensors_carry_hf_names_and_layouts() {
    let device = Default::default();
    for (preset, prefix) in [(Preset::Bert, "bert"), (Preset::Deberta, "deberta")] {
        let mlm = MlmModel::<B>::new(&small(preset), &device).unwrap();
        let dir = tempfile::tempdir().unwrap();
        export_model(&mlm, dir.path()).unwrap();
        let mut store = SafetensorsStore::from_file(dir.path().join("model.safetensors"));
        let names = store.keys().unwrap();
        let shape = |store: &mut SafetensorsStore, n: &str| {
            store.get_snapshot(n).unwrap().unwrap().shape.to_vec()
        };
        let (q, ln) = if prefix == "bert" {
            ("query", "attention.output.LayerNorm.weight")
        } else {
            ("query_proj", "attention.output.LayerNorm.weight")
        };
        for n in [
            format!("{prefix}.embeddings.word_embeddings.weight"),
            format!("{prefix}.embeddings.LayerNorm.bias"),
            format!("{prefix}.encoder.layer.1.attention.self.{q}.weight"),
            format!("{prefix}.encoder.layer.1.{ln}"),
            format!("{prefix}.encoder.layer.0.output.LayerNorm.bias"),
            "cls.predictions.transform.LayerNorm.weight".into(),
            "cls.predictions.decoder.weight".into(),
        ] {
            assert!(names.contains(&n), "{prefix}: no {n} in {names:?}");
        }
        // PyTorch's [out, in] layout
        assert_eq!(
            shape(
                &mut store,
                &format!("{prefix}.encoder.layer.0.intermediate.dense.weight")
            ),
            vec![64, 32]
        );
        assert!(
            names
                .iter()
                .all(|n| n.starts_with(&format!("{prefix}.")) || n.starts_with("cls.predictions.")),
            "{names:?}"
        );
        if prefix == "bert" {
            let types = read::<2>(
                &dir.path().join("model.safetensors"),
                "bert.embeddings.token_type_embeddings.weight",
            );
            assert_eq!(vals(types), vec![0.0; 32]);
        } else {
            // the EMD's position table stays behind; the relative table is exported
            assert!(!names.iter().any(|n| n.contains("position_embeddings")));
            assert!(names.contains(&"deberta.encoder.rel_embeddings.weight".to_string()));
        }
    }
}

#[test]
fn what_hf_cannot_hold_is_refused_naming_it() {
    for (preset, word) in REFUSED {
        let e = hf_config(&small(preset)).unwrap_err().to_string();
        assert!(e.contains(word), "{}: {e}", preset.name());
        assert!(e.contains("retrain"), "{}: {e}", preset.name());
    }
    let with = |f: &dyn Fn(&mut ModelConfig)| {
        let mut cfg = small(Preset::DebertaNoEmd);
        f(&mut cfg);
        cfg.validate().unwrap();
        hf_config(&cfg).unwrap_err().to_string()
    };
    let paper = with(&|c| {
        if let PositionScheme::Deberta(d) = &mut c.position {
            d.p2c_index = P2cIndex::Paper;
        }
    });
    assert!(paper.contains("p2c_index = \"paper\""), "{paper}");
    let p2p = with(&|c| {
        if let PositionScheme::Deberta(d) = &mut c.position {
            d.pos_att_type.push(PosAttType::P2p);
        }
    });
    assert!(p2p.contains("p2p"), "{p2p}");
    let mut sin = small(Preset::Bert);
    sin.position = PositionScheme::Absolute(ablate_model::position::AbsoluteConfig {
        embedding: ablate_model::position::AbsoluteEmbedding::Sinusoidal,
    });
    let e = hf_config(&sin).unwrap_err().to_string();
    assert!(e.contains("sinusoidal"), "{e}");
    let mut wide = small(Preset::Bert);
    wide.attention_head_size = Some(16);
    let e = hf_config(&wide).unwrap_err().to_string();
    assert!(e.contains("attention_head_size"), "{e}");
    // every activation has an HF name that reads back
    for act in [
        HiddenAct::Gelu,
        HiddenAct::GeluTanh,
        HiddenAct::Relu,
        HiddenAct::Silu,
        HiddenAct::Tanh,
    ] {
        let cfg = ModelConfig {
            hidden_act: act,
            ..small(Preset::Bert)
        };
        let name = hf_config(&cfg).unwrap().json["hidden_act"].clone();
        assert_eq!(HiddenAct::from_hf(name.as_str().unwrap()), Some(act));
    }
}

#[test]
fn hf_bert_configs_read_with_hf_defaults() {
    let path = Path::new("config.json");
    let cfg = ablate_model::hf::model_config_from_hf(
        r#"{"model_type": "bert", "hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 64,
            "num_hidden_layers": 1, "vocab_size": 100}"#,
        path,
    )
    .unwrap();
    assert!(matches!(cfg.position, PositionScheme::Absolute(_)));
    assert_eq!(
        (
            cfg.type_vocab_size,
            cfg.layer_norm_eps,
            cfg.max_position_embeddings
        ),
        (2, 1e-12, 512)
    );
    assert!(!cfg.position_biased_input);
    let e = ablate_model::hf::model_config_from_hf(
        r#"{"model_type": "bert", "position_embedding_type": "relative_key"}"#,
        path,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("position_embedding_type") && e.contains("relative_key"),
        "{e}"
    );
}
