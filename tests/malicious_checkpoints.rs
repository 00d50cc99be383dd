//! No code runs from a checkpoint: `pytorch_model.bin` files whose pickle calls `os.system`, `builtins.eval` or
//! `builtins.exec` (made by scripts/make_malicious_pickles.py, in torch's zip and legacy formats; each payload
//! would create an `ablate_pickle_canary*` file in the working directory) are refused, and no canary appears:
//! the zip ones by the pickle reader, with an error naming the file and the global; the legacy ones because the
//! lab reads only the zip format (`crates/model/src/hf/torch_file.rs`), before any pickle in them is read.

use std::path::Path;
use std::process::Command;

#[test]
fn pickles_that_call_globals_are_refused_and_run_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/malicious");
    let mut folders: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 6, "{folders:?}");
    for dir in folders {
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("out.npy");
        let o = Command::new(env!("CARGO_BIN_EXE_ablate"))
            .args(["encode", "--checkpoint"])
            .arg(&dir)
            .arg("--ids")
            .arg(dir.join("ids.json"))
            .arg("--out")
            .arg(&out)
            .current_dir(work.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{}: accepted", dir.display());
        // The folder's name holds the global's name too: look only at what follows the file's path.
        let file = format!("{}: ", dir.join("pytorch_model.bin").display());
        let (_, why) = err
            .split_once(&file)
            .unwrap_or_else(|| panic!("the error does not start with {file}: {err}"));
        let name = dir.file_name().unwrap().to_string_lossy();
        if name.ends_with("_legacy") {
            // The format before PyTorch 1.6 is refused before any pickle in it is read.
            assert!(why.contains("before 1.6"), "{name}: {why}");
        } else {
            let global = name.split('_').nth(1).unwrap();
            assert!(
                why.contains("Unsupported Python type") && why.contains(&format!(".{global}'")),
                "{name}: {why}"
            );
        }
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "{}: wrote output", dir.display());
        let left: Vec<_> = std::fs::read_dir(work.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            left.is_empty(),
            "{}: the payload ran: {left:?}",
            dir.display()
        );
    }
}
