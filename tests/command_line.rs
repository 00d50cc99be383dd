//! The command line itself: every command's `--help` shows an example, `ablate new` writes an experiment file
//! that validates, and `ablate completions` prints a script each shell accepts.

mod common;

use std::process::Command;

use ablate_runner::Cli;
use clap::CommandFactory;
use common::{ablate, text};

/// Every command path below the root (`["run"]`, `["data", "shards"]`, ...), from clap's own tree.
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands() {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_string());
            out.push(path.clone());
            walk(sub, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &[], &mut out);
    out
}

#[test]
fn every_command_help_shows_an_example() {
    let paths = command_paths();
    assert!(paths.len() >= 20, "{paths:?}");
    for path in paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let o = ablate(&args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        let help = String::from_utf8_lossy(&o.stdout);
        let example = help
            .split("Example:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{args:?} --help shows no example:\n{help}"));
        let first = example.lines().next().unwrap_or("").trim();
        assert!(
            first.starts_with(&format!("ablate {}", path[0])),
            "{args:?}: the example does not use the command: {first:?}"
        );
    }
}

#[test]
fn new_writes_an_experiment_that_validates_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("sub/mine.toml");
    let exp_s = exp.to_str().unwrap();
    let o = ablate(&[
        "new", exp_s, "--preset", "rope", "--preset", "alibi", "--preset", "deberta",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("3 variants x 3 seeds = 9 runs"),
        "{}",
        text(&o)
    );
    let written = std::fs::read_to_string(&exp).unwrap();
    assert!(written.contains("baseline = \"rope\""), "{written}");
    let v = ablate(&["validate", exp_s]);
    assert!(v.status.success(), "{}", text(&v));
    assert!(text(&v).contains("9 runs"), "{}", text(&v));

    let again = ablate(&["new", exp_s]);
    assert!(!again.status.success());
    assert!(text(&again).contains("--force"), "{}", text(&again));
    assert_eq!(std::fs::read_to_string(&exp).unwrap(), written);

    let forced = ablate(&["new", exp_s, "--force"]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert!(
        std::fs::read_to_string(&exp)
            .unwrap()
            .contains("baseline = \"bert\"")
    );

    let bad = ablate(&["new", exp_s, "--force", "--preset", "debreta"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains("unknown preset `debreta`"),
        "{}",
        text(&bad)
    );
    let twice = ablate(&[
        "new", exp_s, "--force", "--preset", "bert", "--preset", "bert",
    ]);
    assert!(!twice.status.success());
    assert!(text(&twice).contains("given twice"), "{}", text(&twice));
}

#[test]
fn new_with_a_corpus_points_at_it_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.txt");
    std::fs::write(&corpus, "Some text.\n").unwrap();
    let exp = dir.path().join("elsewhere/exp.toml");
    let o = ablate(&[
        "new",
        exp.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let written = std::fs::read_to_string(&exp).unwrap();
    let table: toml::Table = written.parse().unwrap();
    assert_eq!(
        table["base"]["data"]["corpus"].as_str(),
        Some(corpus.to_str().unwrap())
    );
}

#[test]
fn completion_scripts_load_in_their_shells() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = ablate(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", text(&o));
        let script = String::from_utf8_lossy(&o.stdout);
        for name in ["slurm", "finetune", "completions"] {
            assert!(script.contains(name), "{shell} completions lack {name}");
        }
    }
    // bash itself parses the script and registers the completion.
    let o = ablate(&["completions", "bash"]);
    let check = Command::new("bash")
        .arg("-c")
        .arg("source /dev/stdin && complete -p ablate")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&o.stdout)?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));
    assert!(String::from_utf8_lossy(&check.stdout).contains("ablate"));
    let bad = ablate(&["completions", "tcsh"]);
    assert!(!bad.status.success());
}

#[test]
fn a_model_too_large_for_the_machine_is_refused_before_it_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("huge.toml");
    // At least 2 * 10^11 parameters, 3 TiB to train: more than any machine this runs on has available.
    std::fs::write(
        &spec,
        "steps = 10\nbatch_size = 4\n[optimiser]\nwarmup_steps = 1\n[model]\npreset = \"bert\"\n\
         hidden_size = 65536\nnum_hidden_layers = 4\nnum_attention_heads = 4\nintermediate_size = 262144\n\
         max_position_embeddings = 64\n[data]\nmax_len = 32\n[data.tokenizer]\nvocab_size = 500\n",
    )
    .unwrap();
    let out = dir.path().join("run");
    let start = std::time::Instant::now();
    let o = ablate(&[
        "train",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let msg = text(&o);
    assert_eq!(o.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("huge.toml")
            && msg.contains("model.hidden_size 65536")
            && msg.contains("MemAvailable")
            && !msg.contains("memory allocation"),
        "{msg}"
    );
    assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
    assert!(!out.exists());
}
