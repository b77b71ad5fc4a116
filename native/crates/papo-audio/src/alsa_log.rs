//! alsa-lib's error messages kept for papo's log instead of printed on stderr.
//!
//! On a machine without a sound card, alsa-lib prints a dozen "ALSA lib ... cannot find card '0'" lines
//! each time a device is looked for. `install` replaces its error handler with one that keeps the first
//! messages (the function and the format string, which name the problem) for `take` to hand to the log.

use std::ffi::{c_char, c_int, CStr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// How many messages are kept until taken; later ones are only counted.
pub const KEPT: usize = 32;

static MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static DROPPED: AtomicUsize = AtomicUsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

fn text(pointer: *const c_char) -> Option<String> {
    // SAFETY: alsa-lib passes NUL-terminated strings (or null) that outlive the call.
    (!pointer.is_null()).then(|| {
        unsafe { CStr::from_ptr(pointer) }
            .to_string_lossy()
            .into_owned()
    })
}

/// Keep one message: "function: format (reason)". Called by alsa-lib, on any thread.
pub fn keep(function: Option<String>, format: Option<String>, reason: Option<String>) {
    let mut message = function.unwrap_or_else(|| "alsa-lib".to_owned());
    if let Some(format) = format {
        message = format!("{message}: {}", format.trim_end());
    }
    if let Some(reason) = reason {
        message = format!("{message} ({reason})");
    }
    let mut messages = MESSAGES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if messages.len() < KEPT {
        messages.push(message);
    } else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe extern "C" fn handler(
    _file: *const c_char,
    _line: c_int,
    function: *const c_char,
    err: c_int,
    format: *const c_char,
) {
    // SAFETY: snd_strerror returns a static NUL-terminated string for any error code.
    let reason = (err != 0)
        .then(|| text(unsafe { alsa_sys::snd_strerror(err) }))
        .flatten();
    keep(text(function), text(format), reason);
}

/// Route alsa-lib's error messages here (once per process; later calls do nothing).
pub fn install() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    type Named = unsafe extern "C" fn(*const c_char, c_int, *const c_char, c_int, *const c_char);
    // SAFETY: alsa-lib calls its handler as a C variadic function. On the C ABIs papo runs on (x86-64 System V
    // and AArch64 AAPCS64 on Linux) the named arguments of a variadic call are passed exactly as those of a
    // non-variadic call, and this handler reads only the named ones (stable Rust cannot define a variadic fn).
    unsafe {
        let variadic =
            std::mem::transmute::<Named, alsa_sys::snd_lib_error_handler_t>(handler as Named);
        alsa_sys::snd_lib_error_set_handler(variadic);
    }
}

/// The messages kept since the last call, and how many more were only counted.
pub fn take() -> (Vec<String>, usize) {
    let mut messages = MESSAGES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (
        std::mem::take(&mut *messages),
        DROPPED.swap(0, Ordering::Relaxed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    static SERIAL: Mutex<()> = Mutex::new(()); // the kept messages are global: one test at a time

    #[test]
    fn messages_are_kept_up_to_the_bound_and_the_rest_counted() {
        let _serial = SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = take();
        for n in 0..KEPT + 3 {
            keep(
                Some("parse_card".into()),
                Some(format!("cannot find card '{n}'\n")),
                None,
            );
        }
        let (messages, dropped) = take();
        assert_eq!(messages.len(), KEPT);
        assert_eq!(messages[0], "parse_card: cannot find card '0'");
        assert_eq!(dropped, 3);
        assert_eq!(take(), (Vec::new(), 0));
    }

    #[test]
    fn an_installed_handler_catches_what_alsa_lib_reports() {
        let _serial = SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        install();
        let _ = take();
        let name = std::ffi::CString::new("no-such-papo-device").unwrap();
        let mut pcm = std::ptr::null_mut();
        // SAFETY: a plain snd_pcm_open of a name that does not exist; it fails and reports through the handler.
        let status = unsafe {
            alsa_sys::snd_pcm_open(
                &mut pcm,
                name.as_ptr(),
                alsa_sys::SND_PCM_STREAM_PLAYBACK,
                0,
            )
        };
        assert!(status < 0);
        let (messages, _) = take();
        assert!(
            messages.iter().any(|m| m.contains("snd_pcm_open")),
            "{messages:?}"
        );
    }
}
