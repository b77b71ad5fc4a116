//! Waking a waiting reader from the audio callback without a lock: a Linux futex on a counter.
//!
//! The writer bumps the counter after every push and wakes the reader only if it is waiting for no
//! more samples than are now available. Elsewhere than Linux the reader falls back to short sleeps.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

/// Shared between the two ends of a ring.
#[derive(Default)]
pub(crate) struct Wake {
    /// Bumped on every push (the futex word).
    pushes: AtomicU32,
    /// Samples the reader waits for; 0 when nobody waits.
    wanted: AtomicUsize,
}

impl Wake {
    /// Writer side: wake the reader if it waits for at most `available` samples.
    #[inline]
    pub(crate) fn pushed(&self, available: usize) {
        self.pushes.fetch_add(1, Ordering::Release);
        let wanted = self.wanted.load(Ordering::Acquire);
        if wanted != 0 && wanted <= available {
            futex_wake(&self.pushes);
        }
    }

    /// Reader side: a token to wait on, taken before checking the ring again.
    #[inline]
    pub(crate) fn token(&self, wanted: usize) -> u32 {
        self.wanted.store(wanted, Ordering::Release);
        self.pushes.load(Ordering::Acquire)
    }

    /// Reader side: sleep until a push after `token`, or `timeout`.
    pub(crate) fn wait(&self, token: u32, timeout: Duration) {
        futex_wait(&self.pushes, token, timeout);
    }

    /// Reader side: no longer waiting.
    #[inline]
    pub(crate) fn done(&self) {
        self.wanted.store(0, Ordering::Release);
    }

    /// Writer gone: wake the reader so it notices.
    pub(crate) fn closed(&self) {
        self.pushes.fetch_add(1, Ordering::Release);
        futex_wake(&self.pushes);
    }
}

#[cfg(target_os = "linux")]
fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a valid, aligned u32 that outlives the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

#[cfg(target_os = "linux")]
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let spec = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: FUTEX_WAIT on a valid, aligned u32; returns at once if the word is no longer `expected`.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &spec as *const libc::timespec,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn futex_wake(_word: &AtomicU32) {}

#[cfg(not(target_os = "linux"))]
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    if word.load(Ordering::Acquire) == expected {
        std::thread::sleep(timeout.min(Duration::from_millis(2)));
    }
}
