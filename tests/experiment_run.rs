//! `ablate run`, `status` and `report` end to end on a tiny experiment with real training: the report and
//! every chart are produced; `ablate report` rebuilds them from the run folders alone; Ctrl-C and a rerun
//! lose no finished run; a second `ablate run` on a locked folder is refused; bad files are refused.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{IDS, TINY, ablate, cache, record, setup, text};

#[test]
fn a_sweep_runs_reports_and_the_report_is_rebuilt_from_the_run_folders() {
    let (tmp, exp) = setup();
    let out = tmp.path().join("out");
    let o = ablate(&[
        "run",
        exp.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--cache",
        &cache(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    for id in IDS {
        let r = record(&out, id);
        assert_eq!(r["status"], "completed", "{id}: {r}");
        let run = out.join("runs").join(id);
        for f in [
            "pretrain/summary.json",
            "pretrain/metrics.csv",
            "finetune/bshift/summary.json",
            "length.json",
            "attention.json",
        ] {
            assert!(run.join(f).is_file(), "{id}: no {f}");
        }
        assert!(common::check_tensorboard(&run.join("pretrain")) > 10);
        assert!(common::check_tensorboard(&run.join("finetune/bshift")) > 3);
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in ["bert", "deberta", "charts/valid_loss.png", "tiny.toml"] {
        assert!(
            report.contains(needle),
            "report.md lacks {needle}:\n{report}"
        );
    }
    for chart in ["valid_loss", "final_metrics", "length", "throughput"] {
        for ext in ["png", "svg"] {
            let p = out.join("charts").join(format!("{chart}.{ext}"));
            assert!(
                p.metadata().map(|m| m.len() > 1000).unwrap_or(false),
                "missing or empty {}",
                p.display()
            );
        }
    }
    let attention_charts = std::fs::read_dir(out.join("charts"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("attention")
        })
        .count();
    assert!(attention_charts >= 2, "no attention-map charts");

    let status = ablate(&["status", out.to_str().unwrap()]);
    assert!(status.status.success(), "{}", text(&status));
    assert!(
        text(&status).contains("4 runs: 4 complete"),
        "{}",
        text(&status)
    );

    // `ablate status DIR | head -1`: output into a closed pipe ends the program quietly (SIGPIPE), no panic
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = Command::new(env!("CARGO_BIN_EXE_ablate"))
            .args(["status", out.to_str().unwrap()])
            .stdout(writer)
            .output()
            .unwrap();
        assert!(
            o.status.signal() == Some(13) && !text(&o).contains("panicked"),
            "{:?} {}",
            o.status,
            text(&o)
        );
    }

    // the report is rebuilt from the run folders alone, identically
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    std::fs::remove_file(out.join("report.md")).unwrap();
    std::fs::remove_file(out.join("summary.csv")).unwrap();
    std::fs::remove_dir_all(out.join("charts")).unwrap();
    let o = ablate(&["report", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("summary.csv")).unwrap(),
        summary
    );
    assert!(out.join("report.md").is_file());
    assert!(out.join("charts/valid_loss.png").is_file());

    // running it again redoes nothing
    let before = std::fs::metadata(out.join("runs/bert/seed-1/pretrain/summary.json"))
        .unwrap()
        .modified()
        .unwrap();
    let o = ablate(&[
        "run",
        exp.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--cache",
        &cache(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let after = std::fs::metadata(out.join("runs/bert/seed-1/pretrain/summary.json"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
}

#[test]
fn ctrl_c_then_the_same_command_loses_no_finished_run() {
    use std::os::unix::process::CommandExt;
    let (tmp, exp) = setup();
    let out = tmp.path().join("out");
    let args = [
        "run".to_string(),
        exp.display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--cache".into(),
        cache(),
        "--no-report".into(),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_ablate"))
        .args(&args)
        .env("RAYON_NUM_THREADS", "2")
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // wait for the first finished run, then press Ctrl-C (SIGINT to the whole process group)
    let start = Instant::now();
    let first = loop {
        if let Some(id) = IDS.iter().find(|id| {
            out.join("runs").join(id).join("run.json").is_file()
                && record(&out, id)["status"] == "completed"
        }) {
            break *id;
        }
        assert!(child.try_wait().unwrap().is_none(), "the sweep ended early");
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "no run finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let pgid = child.id().to_string();
    let kill = Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "an interrupted sweep must not report success"
    );
    let finished_at = std::fs::metadata(out.join("runs").join(first).join("length.json"))
        .unwrap()
        .modified()
        .unwrap();
    let unfinished = IDS
        .iter()
        .filter(|id| record(&out, id)["status"] != "completed")
        .count();
    assert!(unfinished > 0, "Ctrl-C came too late to test anything");
    let s = ablate(&["status", out.to_str().unwrap()]);
    assert!(
        text(&s).contains("interrupted") || text(&s).contains("pending"),
        "{}",
        text(&s)
    );

    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = ablate(&args);
    assert!(o.status.success(), "{}", text(&o));
    for id in IDS {
        assert_eq!(record(&out, id)["status"], "completed", "{id}");
    }
    let again = std::fs::metadata(out.join("runs").join(first).join("length.json"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(finished_at, again, "a finished run was redone");
}

#[test]
fn a_locked_folder_and_bad_files_are_refused_with_clear_messages() {
    let (tmp, exp) = setup();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("experiment.toml"), TINY).unwrap();
    let lock = ablate_runner::experiment::sweep::lock(&out, None).unwrap();
    let o = ablate(&["run", exp.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("another `ablate run`"), "{}", text(&o));
    drop(lock);

    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        TINY.replace("preset = \"bert\"", "preset = \"bart\"")
            .replace("seeds = [1, 2]", "seeds = [1, 2]\ncolour = 3"),
    )
    .unwrap();
    for cmd in ["validate", "run"] {
        let o = ablate(&[cmd, bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let t = text(&o);
        assert!(t.contains("2 problems"), "{t}");
        assert!(t.contains("colour") && t.contains("bart"), "{t}");
    }
    assert!(!tmp.path().join("results").exists());
    let o = ablate(&["validate", exp.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("4 runs"), "{}", text(&o));
    let o = ablate(&["status", tmp.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("not an experiment folder"),
        "{}",
        text(&o)
    );
}
