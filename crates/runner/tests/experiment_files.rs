//! Experiment files: every problem is reported with its location before anything runs; good files expand
//! into the right runs; shards split a sweep without overlap.

use std::path::{Path, PathBuf};

use ablate_runner::experiment::plan::{Shard, expand};
use ablate_runner::experiment::spec::{Problems, parse};

const GOOD: &str = r#"
description = "two schemes"
baseline = "bert"
seeds = [1, 2]

[base]
steps = 10
batch_size = 4
[base.model]
hidden_size = 32
num_hidden_layers = 1
num_attention_heads = 2
intermediate_size = 64
max_position_embeddings = 64
[base.data]
max_len = 32
[base.data.tokenizer]
vocab_size = 500
[base.optimiser]
warmup_steps = 2

[[variants]]
name = "bert"
preset = "bert"

[[variants]]
name = "deberta-no-c2p"
preset = "deberta"
model = { position = { kind = "deberta", pos_att_type = ["p2c"] } }

[grid]
"optimiser.lr" = [1e-3, 3e-4]
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn problems(text: &str) -> Problems {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "exp.toml", text);
    match parse(&path) {
        Err(p) => p,
        Ok(exp) => expand(&exp).expect_err("the file should have problems"),
    }
}

fn has(p: &Problems, location: &str, message: &str) -> bool {
    p.list
        .iter()
        .any(|x| x.location.contains(location) && x.message.contains(message))
}

#[test]
fn a_good_file_expands_into_one_run_per_variant_grid_point_and_seed() {
    let dir = tempfile::tempdir().unwrap();
    let exp = parse(&write(dir.path(), "ablation.toml", GOOD)).unwrap();
    assert_eq!(exp.name, "ablation");
    assert_eq!(exp.baseline, "bert");
    let runs = expand(&exp).unwrap();
    assert_eq!(runs.len(), 2 * 2 * 2);
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    assert!(ids.contains(&"bert~optimiser.lr=0.001/seed-1"), "{ids:?}");
    assert!(
        ids.contains(&"deberta-no-c2p~optimiser.lr=0.0003/seed-2"),
        "{ids:?}"
    );
    let r = runs
        .iter()
        .find(|r| r.id == "deberta-no-c2p~optimiser.lr=0.0003/seed-2")
        .unwrap();
    assert_eq!(r.seed, 2);
    assert_eq!(r.spec.seed, 2);
    assert_eq!(r.spec.optimiser.lr, 3e-4);
    assert_eq!(r.spec.model.config.hidden_size, 32);
    let pos = toml::Value::try_from(&r.spec.model.config.position).unwrap();
    assert_eq!(pos["pos_att_type"].as_array().unwrap().len(), 1, "{pos}");
    let bert = runs.iter().find(|r| r.variant == "bert").unwrap();
    assert_ne!(
        toml::Value::try_from(&bert.spec.model.config.position).unwrap()["kind"].as_str(),
        Some("deberta")
    );
}

#[test]
fn shards_cover_every_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let runs = expand(&parse(&write(dir.path(), "e.toml", GOOD)).unwrap()).unwrap();
    let mut seen = vec![0; runs.len()];
    for index in 0..3 {
        let shard: Shard = format!("{index}/3").parse().unwrap();
        for (i, s) in seen.iter_mut().enumerate() {
            if shard.owns(i) {
                *s += 1;
            }
        }
    }
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

#[test]
fn several_problems_are_reported_together_with_their_locations() {
    let text = GOOD
        .replace(
            "baseline = \"bert\"",
            "baseline = \"roberta\"\ncolour = \"red\"",
        )
        .replace("preset = \"bert\"", "preset = \"bart\"")
        .replace("steps = 10", "steps = 10\nlearning_rate = 1e-3");
    let p = problems(&text);
    let shown = p.to_string();
    assert!(has(&p, "colour", "unknown key"), "{shown}");
    assert!(has(&p, "variants[0] (bert).preset", "bart"), "{shown}");
    assert!(has(&p, "baseline", "`roberta` is not a variant"), "{shown}");
    assert!(p.list.len() >= 3, "{shown}");
    assert!(shown.contains("exp.toml has"), "{shown}");
}

#[test]
fn run_spec_problems_name_the_variant_and_the_key() {
    // an unknown key of the run spec, reported once for every variant it affects
    let p = problems(&GOOD.replace("steps = 10", "steps = 10\nlearning_rate = 1e-3"));
    assert!(has(&p, "variant bert", "learning_rate"), "{p}");
    assert_eq!(p.list.len(), 1, "{p}");
    // a conflict: rows longer than the absolute position table of the model
    let p = problems(&GOOD.replace("max_len = 32", "max_len = 128"));
    assert!(has(&p, "variant bert", "max_position_embeddings"), "{p}");
    // a bad value of a grid axis
    let p = problems(&GOOD.replace("[1e-3, 3e-4]", "[1e-3, -1.0]"));
    assert!(has(&p, "optimiser.lr=-1", "lr"), "{p}");
    // a model override of the wrong type
    let p = problems(&GOOD.replace("hidden_size = 32", "hidden_size = \"wide\""));
    assert!(has(&p, "variant", "hidden_size"), "{p}");
}

#[test]
fn structural_problems_are_caught() {
    let p = problems("seeds = [\nvariants = 3");
    assert!(has(&p, "file", "not valid TOML"), "{p}");
    let p = problems(&GOOD.replace("seeds = [1, 2]", "seeds = []"));
    assert!(has(&p, "seeds", "empty"), "{p}");
    let p = problems(&GOOD.replace("seeds = [1, 2]", "seeds = [1, 1]"));
    assert!(has(&p, "seeds", "twice"), "{p}");
    let p = problems(&GOOD.replace("name = \"deberta-no-c2p\"", "name = \"bert\""));
    assert!(has(&p, "variants[1] (bert)", "second variant"), "{p}");
    let p = problems(&GOOD.replace("name = \"bert\"", "name = \"../bert\""));
    assert!(has(&p, "variants[0].name", "folder-safe"), "{p}");
    let p = problems(&GOOD.replace("\"optimiser.lr\" = [1e-3, 3e-4]", "seed = [1, 2]"));
    assert!(has(&p, "grid.\"seed\"", "cannot be a grid axis"), "{p}");
    let p = problems(&GOOD.replace("[base]", "[base]\nseed = 4"));
    assert!(has(&p, "base.seed", "remove it"), "{p}");
    let p = problems(&format!("{GOOD}\n[finetune]\ntasks = [\"squad\"]\n"));
    assert!(has(&p, "finetune", "squad"), "{p}");
    let p = problems(&format!("{GOOD}\n[length]\nlengths = [4, 64]\n"));
    assert!(has(&p, "length.lengths", "too short"), "{p}");
}

#[test]
fn a_missing_corpus_is_named() {
    let p = problems(&GOOD.replace("[base.data]", "[base.data]\ncorpus = \"no/such/corpus\""));
    assert!(has(&p, "variant", "no/such/corpus does not exist"), "{p}");
}

#[test]
fn the_shipped_experiments_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        // the core corpus is built by `ablate data corpus --profile core` and WordNet comes from a Debian
        // package (scripts/install_corpus_packages.sh): neither is shipped, so those two problems are allowed
        let not_shipped = |m: &str| {
            (m.contains("data/core") && m.contains("does not exist"))
                || m.contains("needs the WordNet database")
        };
        let exp = match parse(&path) {
            Ok(exp) => exp,
            Err(p) => {
                assert!(p.list.iter().all(|x| not_shipped(&x.message)), "{p}");
                checked += 1;
                continue;
            }
        };
        match expand(&exp) {
            Ok(runs) => assert!(!runs.is_empty()),
            Err(p) => assert!(p.list.iter().all(|x| not_shipped(&x.message)), "{p}"),
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} experiment files");
}

#[test]
fn a_corpus_path_relative_to_the_experiment_file_becomes_absolute_in_every_run_spec() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("experiments")).unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/corpus.txt"), "Some text.\n").unwrap();
    let text = GOOD.replace(
        "[base.data]\n",
        "[base.data]\ncorpus = \"../data/corpus.txt\"\n",
    );
    let exp = parse(&write(&dir.path().join("experiments"), "e.toml", &text)).unwrap();
    for run in expand(&exp).unwrap() {
        let corpus = run.spec.data.corpus.clone().expect("the corpus is set");
        assert!(corpus.is_absolute(), "{}", corpus.display());
        // Read from another working directory (a child stage reads its spec in the run folder), it is
        // still the same file.
        assert_eq!(
            std::fs::read_to_string(&corpus).unwrap(),
            "Some text.\n",
            "{}",
            corpus.display()
        );
    }
}

#[test]
fn a_plan_past_the_run_limit_is_refused_before_it_is_built() {
    use ablate_runner::experiment::spec::MAX_RUNS;
    // 30^8 grid points: building them (and a run spec each) would take all memory.
    let values = (1..=30)
        .map(|i| format!("{i}e-5"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = "baseline = \"bert\"\nseeds = [1]\n[[variants]]\nname = \"bert\"\npreset = \"bert\"\n[grid]\n"
        .to_string();
    for key in ["lr", "weight_decay", "beta1", "beta2", "eps", "a", "b", "c"] {
        text.push_str(&format!("\"optimiser.{key}\" = [{values}]\n"));
    }
    let start = std::time::Instant::now();
    let p = problems(&text);
    assert!(start.elapsed().as_secs() < 5, "{:?}", start.elapsed());
    assert!(has(&p, "grid", "expands to 656100000000 runs"), "{p}");
    // At the limit itself the plan is fine as far as its size goes.
    let n = MAX_RUNS as usize;
    let seeds = (1..=n)
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let at_limit = format!(
        "baseline = \"bert\"\nseeds = [{seeds}]\n[[variants]]\nname = \"bert\"\npreset = \"bert\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let exp = parse(&write(dir.path(), "at_limit.toml", &at_limit)).unwrap();
    assert_eq!(exp.seeds.len(), n);
}
