//! `ablate encode` end to end: HF checkpoint + ids in, .npy out, equal to HF transformers' output; bad ids
//! give clear errors and leave no output behind.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hf")
        .join(name)
}

fn ablate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ablate"))
        .args(args)
        .output()
        .unwrap()
}

fn read_npy_f32(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    (npy.shape().to_vec(), npy.into_vec::<f32>().unwrap())
}

#[test]
fn encode_matches_hf_on_every_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "v3_like",
        "v1_like",
        "c2p_only",
        "absolute",
        "p2c_buckets_bin",
    ] {
        let dir = fixture(name);
        let out = tmp.path().join(format!("{name}.npy"));
        let res = ablate(&[
            "encode",
            "--checkpoint",
            dir.to_str().unwrap(),
            "--ids",
            dir.join("ids.json").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            res.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&res.stderr)
        );
        let (shape, got) = read_npy_f32(&out);
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        let want_shape: Vec<u64> = serde_json::from_value(expected["shape"].clone()).unwrap();
        let want: Vec<f32> = serde_json::from_value(expected["data"].clone()).unwrap();
        assert_eq!(shape, want_shape, "{name}");
        let diff = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff <= 1e-4, "{name}: max abs diff {diff}");
    }
}

#[test]
fn float64_output_has_the_same_values() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture("c2p_only");
    let out = tmp.path().join("o.npy");
    let res = ablate(&[
        "encode",
        "--checkpoint",
        dir.to_str().unwrap(),
        "--ids",
        dir.join("ids.json").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--dtype",
        "f64",
    ]);
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.shape(), &[3, 40, 32]);
    let v = npy.into_vec::<f64>().unwrap();
    assert_eq!(v.len(), 3 * 40 * 32);
}

#[test]
fn bad_ids_are_clear_errors_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixture("absolute");
    let cases = [
        ("[]", "empty"),
        ("[[1, 2, 3], [4, 5]]", "different lengths"),
        ("[[1, 2, 97]]", "out of the vocabulary"),
        ("[[1, -2]]", "not a non-negative integer"),
        ("[[]]", "row 0 is empty"),
        ("{\"ids\": 1}", "JSON list"),
        ("[[1, 2", "not valid JSON"),
        (&format!("[[{}]]", vec!["1"; 65].join(",")), "too long"),
    ];
    for (text, want) in cases {
        let ids = tmp.path().join("ids.json");
        std::fs::write(&ids, text).unwrap();
        let out = tmp.path().join("out.npy");
        let res = ablate(&[
            "encode",
            "--checkpoint",
            dir.to_str().unwrap(),
            "--ids",
            ids.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(want), "{text}: expected `{want}` in: {err}");
        assert!(!out.exists(), "{text}: an output was written");
    }
    let res = ablate(&[
        "encode",
        "--checkpoint",
        tmp.path().join("nope").to_str().unwrap(),
        "--ids",
        "x.json",
        "--out",
        "y.npy",
    ]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("config.json"), "{err}");
}
