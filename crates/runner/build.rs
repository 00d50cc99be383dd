//! Records the git commit the binary is built from (`ABLATE_GIT_COMMIT`, "unknown" outside a git checkout), so
//! that an experiment folder's `commands.log` names the code that made it.

use std::path::Path;
use std::process::Command;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let git = root.join(".git");
    for p in ["HEAD", "packed-refs", "refs/heads"] {
        println!("cargo:rerun-if-changed={}", git.join(p).display());
    }
    let commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=ABLATE_GIT_COMMIT={commit}");
}
