//! `papo._native`: the Rust audio and cache crates, exposed to Python.
//!
//! Every blocking call releases the GIL; every error becomes a Python exception naming the device or
//! the cache; no panic crosses into Python (each entry point catches it and raises `NativePanicError`).

mod audio;
mod cache;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _native,
    NativeError,
    PyException,
    "Base of every error raised by papo._native."
);
create_exception!(
    _native,
    AudioError,
    NativeError,
    "An audio device or stream failed."
);
create_exception!(
    _native,
    NoAudioDeviceError,
    AudioError,
    "No audio device matched, or none exists."
);
create_exception!(
    _native,
    DeviceBusyError,
    AudioError,
    "The audio device is used by another program."
);
create_exception!(
    _native,
    StreamClosedError,
    AudioError,
    "The stream was closed or its device failed."
);
create_exception!(
    _native,
    CacheError,
    NativeError,
    "The on-disk cache failed."
);
create_exception!(
    _native,
    CacheLockedError,
    CacheError,
    "Another process has the cache open."
);
create_exception!(
    _native,
    NativePanicError,
    NativeError,
    "A bug in papo._native; the operation was abandoned."
);

/// Run `f`, turning a Rust panic into a Python exception instead of unwinding into the interpreter.
pub(crate) fn guarded<T>(what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(NativePanicError::new_err(format!(
                "{what} failed inside papo._native: {detail}"
            )))
        }
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("NativeError", py.get_type::<NativeError>())?;
    m.add("AudioError", py.get_type::<AudioError>())?;
    m.add("NoAudioDeviceError", py.get_type::<NoAudioDeviceError>())?;
    m.add("DeviceBusyError", py.get_type::<DeviceBusyError>())?;
    m.add("StreamClosedError", py.get_type::<StreamClosedError>())?;
    m.add("CacheError", py.get_type::<CacheError>())?;
    m.add("CacheLockedError", py.get_type::<CacheLockedError>())?;
    m.add("NativePanicError", py.get_type::<NativePanicError>())?;
    m.add("PIPELINE_RATE", papo_audio::PIPELINE_RATE)?;
    papo_audio::alsa_log::install();
    m.add_function(wrap_pyfunction!(audio::alsa_messages, m)?)?;
    m.add_function(wrap_pyfunction!(audio::list_devices, m)?)?;
    m.add_class::<audio::Capture>()?;
    m.add_class::<audio::Playback>()?;
    m.add_class::<cache::Cache>()?;
    Ok(())
}
