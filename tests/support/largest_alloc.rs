//! A global allocator for the property tests: the system allocator, recording the largest single request of
//! each thread, and refusing requests above 4 GiB (a reader asking for that from a damaged size field then
//! aborts the test instead of swapping the machine). A test binary installs it with
//! `#[global_allocator] static ALLOC: largest_alloc::Tracking = largest_alloc::Tracking;` and measures a call
//! with [`measured`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The largest allocation any reader may make in these tests (their valid inputs need well under 4 MB).
pub const ALLOCATION_BOUND: usize = 256 << 20;

const REFUSED_ABOVE: usize = 4 << 30;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// See the module documentation.
pub struct Tracking;

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        if layout.size() > REFUSED_ABOVE {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        if layout.size() > REFUSED_ABOVE {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        if new_size > REFUSED_ABOVE {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f`, returning its result and the largest allocation it made on this thread.
pub fn measured<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}
