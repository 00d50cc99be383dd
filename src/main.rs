//! The `ablate` command-line program.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

fn main() -> ExitCode {
    die_quietly_on_a_closed_pipe();
    keep_large_allocations_in_the_heap();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !output_hit_a_full_disk(info.payload()) {
            default_hook(info);
        }
    }));
    match std::panic::catch_unwind(ablate_runner::cli_main) {
        Ok(code) => code,
        Err(_) if OUTPUT_HIT_A_FULL_DISK.load(Ordering::SeqCst) => {
            ExitCode::from(ablate_runner::EXIT_DISK_FULL)
        }
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

static OUTPUT_HIT_A_FULL_DISK: AtomicBool = AtomicBool::new(false);

/// A sweep's stage writes its output into its run's `log.txt`; when that disk fills, `println!` panics
/// ("failed printing to stdout: No space left on device"). That panic unwinds as any other (a run's summary is
/// still marked failed by its tracker), but quietly, since its message cannot be written, and the program
/// then exits with the full-disk code, by which the sweep knows the cause.
fn output_hit_a_full_disk(payload: &(dyn std::any::Any + Send)) -> bool {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    let full = message.starts_with("failed printing to std")
        && (message.contains("os error 28") || message.contains("os error 122"));
    if full {
        OUTPUT_HIT_A_FULL_DISK.store(true, Ordering::SeqCst);
    }
    full
}

/// glibc serves allocations above its mmap threshold (128 KiB, adapting up to 32 MiB) with fresh mappings
/// that the kernel must fault in and zero on every use; a training step allocates and frees activation
/// tensors of 0.5-8 MiB hundreds of times, so that zeroing took about a tenth of a config-S step
/// (docs/benchmarks.md). Raising the threshold to 32 MiB and the trim threshold to 1 GiB keeps freed blocks
/// for reuse; peak memory is unchanged (measured).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_allocations_in_the_heap() {
    // SAFETY: mallopt only changes allocator parameters; it is called before any other thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_allocations_in_the_heap() {}

/// Rust ignores SIGPIPE, so printing into a pipe whose reader has gone (`ablate status DIR | head -1`) fails
/// with EPIPE and `println!` panics. Restoring the default action ends the program quietly instead, as any
/// Unix tool ends; results are never at stake, since every result file is written atomically.
#[cfg(unix)]
fn die_quietly_on_a_closed_pipe() {
    // SAFETY: resets one signal's action to the default before any other thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn die_quietly_on_a_closed_pipe() {}
