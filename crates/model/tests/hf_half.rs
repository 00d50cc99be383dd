//! HF checkpoints saved in half precision (`bf16`, `f16`, as many published checkpoints are) load and compute in
//! the backend's f32: the hidden states equal, bit for bit, those of the same checkpoint saved in f32 with the
//! half-precision values (widening is exact). Before the loader cast the parameters, the first operation
//! panicked on mixed types. Integer-typed weights are refused by name (burn-store panicked on them).

use std::collections::HashMap;
use std::path::Path;

use ablate_model::EncoderInput;
use ablate_model::hf::load_checkpoint;
use burn::tensor::{Int, Tensor, TensorData, bf16, f16};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

type B = burn::backend::Flex;

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/hf/c2p_only")
}

/// Writes `dir/model.safetensors` from `src`'s f32 tensors, each value passed through `half` and stored as
/// `dtype` (`bytes` gives a value's bytes), and copies config.json.
fn write(src: &Path, dir: &Path, dtype: Dtype, bytes: impl Fn(f32) -> Vec<u8>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(src.join("config.json"), dir.join("config.json")).unwrap();
    let raw = std::fs::read(src.join("model.safetensors")).unwrap();
    let tensors = SafeTensors::deserialize(&raw).unwrap();
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, view) in tensors.tensors() {
        assert_eq!(view.dtype(), Dtype::F32, "{name}: the fixture is f32");
        let values = view
            .data()
            .chunks_exact(4)
            .flat_map(|c| bytes(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect();
        data.push((name, view.shape().to_vec(), values));
    }
    let views: HashMap<String, TensorView> = data
        .iter()
        .map(|(name, shape, bytes)| {
            (
                name.clone(),
                TensorView::new(dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(&views, None, &dir.join("model.safetensors")).unwrap();
}

fn hidden(dir: &Path) -> Vec<f32> {
    let device = Default::default();
    let (model, _) = load_checkpoint::<B>(dir, &device).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<Vec<i64>> =
        serde_json::from_str(&std::fs::read_to_string(fixture().join("ids.json")).unwrap())
            .unwrap();
    let (rows, len) = (ids.len(), ids[0].len());
    let flat: Vec<i64> = ids.into_iter().flatten().collect();
    let input = EncoderInput::unmasked(Tensor::<B, 2, Int>::from_data(
        TensorData::new(flat, [rows, len]),
        &device,
    ));
    let out = model.forward(&input, false).last_hidden_state;
    out.into_data().to_vec().unwrap()
}

#[test]
fn half_precision_checkpoints_compute_as_f32_checkpoints_of_the_same_values() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixture();
    type Half = (Dtype, fn(f32) -> f32, fn(f32) -> Vec<u8>);
    let halves: [(&str, Half); 2] = [
        (
            "bf16",
            (
                Dtype::BF16,
                |v| bf16::from_f32(v).to_f32(),
                |v| bf16::from_f32(v).to_le_bytes().to_vec(),
            ),
        ),
        (
            "f16",
            (
                Dtype::F16,
                |v| f16::from_f32(v).to_f32(),
                |v| f16::from_f32(v).to_le_bytes().to_vec(),
            ),
        ),
    ];
    for (name, (dtype, round, bytes)) in halves {
        let half = tmp.path().join(name);
        write(&src, &half, dtype, bytes);
        let widened = tmp.path().join(format!("{name}-as-f32"));
        write(&src, &widened, Dtype::F32, |v| {
            round(v).to_le_bytes().to_vec()
        });
        let (a, b) = (hidden(&half), hidden(&widened));
        assert!(a.iter().all(|v| v.is_finite()), "{name}");
        assert_eq!(
            a, b,
            "{name}: differs from the f32 checkpoint of its values"
        );
        // The rounding is real: the f32 original gives other numbers.
        assert_ne!(a, hidden(&src), "{name}");
    }
}

#[test]
fn integer_weights_are_refused_naming_the_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("i32");
    // Every tensor stored as i32 of its value times 1000.
    write(&fixture(), &dir, Dtype::I32, |v| {
        ((v * 1000.0) as i32).to_le_bytes().to_vec()
    });
    let device = Default::default();
    let e = match load_checkpoint::<B>(&dir, &device) {
        Ok(_) => panic!("integer weights were accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("model.safetensors")
            && e.contains("embeddings.word_embeddings.weight` (I32)")
            && e.contains("and 35 more")
            && e.contains("floating-point"),
        "{e}"
    );
}
