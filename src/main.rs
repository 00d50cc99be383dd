//! The `ablate` command-line program.

fn main() -> std::process::ExitCode {
    die_quietly_on_a_closed_pipe();
    keep_large_allocations_in_the_heap();
    ablate_runner::cli_main()
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
