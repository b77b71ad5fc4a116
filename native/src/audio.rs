//! Python classes for capture and playback; the cpal streams stay on their Rust threads.

use std::sync::Mutex;
use std::time::Duration;

use numpy::{PyArray1, PyReadonlyArray1};
use papo_audio::capture::ReadError;
use pyo3::exceptions::{PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{guarded, AudioError, DeviceBusyError, NoAudioDeviceError, StreamClosedError};

const MAX_READ_SAMPLES: usize = 16_000 * 10;

fn to_py(error: papo_audio::AudioError) -> PyErr {
    use papo_audio::AudioError as E;
    match error {
        E::NoDevice(m) => NoAudioDeviceError::new_err(m),
        E::Busy(m) => DeviceBusyError::new_err(m),
        E::Failed(m) => StreamClosedError::new_err(m),
        E::Unsupported(m) => AudioError::new_err(m),
    }
}

/// Take the stream out of its slot and drop it (joining its thread) with the GIL released.
fn release<T: Send>(py: Python<'_>, what: &str, slot: &Mutex<Option<T>>) -> PyResult<()> {
    guarded(what, || {
        let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        py.detach(move || drop(taken));
        Ok(())
    })
}

fn closed(what: &str) -> PyErr {
    StreamClosedError::new_err(format!("the {what} is closed"))
}

fn timeout(seconds: f64) -> PyResult<Duration> {
    if !(seconds.is_finite() && seconds >= 0.0) {
        return Err(PyValueError::new_err(format!(
            "timeout must be a number of seconds >= 0, got {seconds}"
        )));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// List the audio devices: dicts with id, name, input, output, default_input, default_output.
/// The messages alsa-lib reported since the last call (kept for papo's log, not printed), and how many more.
#[pyfunction]
pub fn alsa_messages() -> (Vec<String>, usize) {
    papo_audio::alsa_log::take()
}

#[pyfunction]
pub fn list_devices(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    let devices = guarded("listing audio devices", || {
        py.detach(papo_audio::list_devices).map_err(to_py)
    })?;
    devices
        .into_iter()
        .map(|d| {
            let dict = PyDict::new(py);
            dict.set_item("id", d.id)?;
            dict.set_item("name", d.name)?;
            dict.set_item("input", d.input)?;
            dict.set_item("output", d.output)?;
            dict.set_item("default_input", d.default_input)?;
            dict.set_item("default_output", d.default_output)?;
            Ok(dict)
        })
        .collect()
}

/// Live capture from an input device as 16 kHz mono int16.
#[pyclass(module = "papo._native", frozen)]
pub struct Capture {
    inner: Mutex<Option<papo_audio::Capture>>,
    #[pyo3(get)]
    device_name: String,
}

#[pymethods]
impl Capture {
    /// Open `device` (id or part of its name; the default input if None) and start capturing.
    #[new]
    #[pyo3(signature = (device=None, ring_seconds=2.0))]
    fn new(py: Python<'_>, device: Option<String>, ring_seconds: f32) -> PyResult<Self> {
        if !(ring_seconds.is_finite() && (0.1..=60.0).contains(&ring_seconds)) {
            return Err(PyValueError::new_err(
                "ring_seconds must be between 0.1 and 60",
            ));
        }
        let capture = guarded("opening the input device", || {
            py.detach(|| papo_audio::Capture::start(device.as_deref(), ring_seconds))
                .map_err(to_py)
        })?;
        Ok(Self {
            device_name: capture.device_name().to_string(),
            inner: Mutex::new(Some(capture)),
        })
    }

    /// Return the next `samples` samples (a numpy int16 array), waiting up to `timeout` seconds.
    #[pyo3(signature = (samples=512, timeout=1.0))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        samples: usize,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyArray1<i16>>> {
        if samples == 0 || samples > MAX_READ_SAMPLES {
            return Err(PyValueError::new_err(format!(
                "samples must be between 1 and {MAX_READ_SAMPLES}, got {samples}"
            )));
        }
        let wait = self::timeout(timeout)?;
        let frame = guarded("reading audio", || {
            py.detach(|| {
                let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                let capture = guard.as_mut().ok_or_else(|| closed("capture"))?;
                let mut frame = vec![0i16; samples];
                match capture.read(&mut frame, wait) {
                    Ok(()) => Ok(frame),
                    Err(ReadError::TimedOut) => Err(PyTimeoutError::new_err(format!(
                        "no audio from {:?} within {timeout} s",
                        capture.device_name()
                    ))),
                    Err(ReadError::Stopped(error)) => Err(to_py(error)),
                }
            })
        })?;
        Ok(PyArray1::from_vec(py, frame))
    }

    /// Counters: captured_samples, overrun_samples, overrun_events, device_xruns, callbacks, device_rate, device_channels, available.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let capture = guard.as_ref().ok_or_else(|| closed("capture"))?;
        let stats = capture.stats();
        let dict = PyDict::new(py);
        dict.set_item("captured_samples", stats.captured_samples)?;
        dict.set_item("overrun_samples", stats.overrun_samples)?;
        dict.set_item("overrun_events", stats.overrun_events)?;
        dict.set_item("device_xruns", stats.device_xruns)?;
        dict.set_item("callbacks", stats.callbacks)?;
        dict.set_item("device_rate", stats.device_rate)?;
        dict.set_item("device_channels", stats.device_channels)?;
        dict.set_item("available", capture.available())?;
        Ok(dict)
    }

    /// True once closed.
    #[getter]
    fn closed(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    /// Stop capturing and release the device (safe to call twice).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        release(py, "closing the capture", &self.inner)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _a: Py<PyAny>,
        _b: Py<PyAny>,
        _c: Py<PyAny>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

/// An output stream; `play` queues mono audio, `stop` silences it at once.
#[pyclass(module = "papo._native", frozen)]
pub struct Playback {
    inner: Mutex<Option<papo_audio::Playback>>,
    control: papo_audio::playback::Control,
    #[pyo3(get)]
    device_name: String,
    #[pyo3(get)]
    sample_rate: u32,
    #[pyo3(get)]
    channels: u16,
}

impl Playback {
    fn with<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut papo_audio::Playback) -> PyResult<T>,
    ) -> PyResult<T> {
        guarded(what, || {
            let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            f(guard.as_mut().ok_or_else(|| closed("playback"))?)
        })
    }
}

#[pymethods]
impl Playback {
    /// Open `device` (id or part of its name; the default output if None).
    #[new]
    #[pyo3(signature = (device=None))]
    fn new(py: Python<'_>, device: Option<String>) -> PyResult<Self> {
        let playback = guarded("opening the output device", || {
            py.detach(|| papo_audio::Playback::start(device.as_deref()))
                .map_err(to_py)
        })?;
        let (sample_rate, channels) = playback.device_format();
        Ok(Self {
            control: playback.control(),
            device_name: playback.device_name().to_string(),
            sample_rate,
            channels,
            inner: Mutex::new(Some(playback)),
        })
    }

    /// Queue mono float32 `samples` at `rate` Hz; blocks while the queue is full. False if `stop()` cut it short.
    fn play(
        &self,
        py: Python<'_>,
        samples: PyReadonlyArray1<'_, f32>,
        rate: u32,
    ) -> PyResult<bool> {
        if !(4_000..=192_000).contains(&rate) {
            return Err(PyValueError::new_err(format!(
                "rate must be 4000 to 192000 Hz, got {rate}"
            )));
        }
        let samples = samples
            .as_slice()
            .map_err(|_| PyValueError::new_err("samples must be a contiguous 1-D float32 array"))?
            .to_vec();
        self.with("playing audio", |playback| {
            py.detach(|| playback.play(&samples, rate)).map_err(to_py)
        })
    }

    /// Drop everything queued (also cutting short a `play` running in another thread); silent within one period.
    fn stop(&self) {
        self.control.stop();
    }

    /// Wait until everything queued reached the device, up to `timeout` seconds; True if it did.
    #[pyo3(signature = (timeout=30.0))]
    fn wait(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let wait = self::timeout(timeout)?;
        self.with("waiting for playback", |playback| {
            py.detach(|| playback.wait(wait)).map_err(to_py)
        })
    }

    /// Samples (at the device rate) still queued.
    fn queued(&self, py: Python<'_>) -> PyResult<usize> {
        // Without the GIL: a `play` or `wait` in another thread holds the playback lock meanwhile.
        py.detach(|| self.with("reading playback state", |playback| Ok(playback.queued())))
    }

    /// Samples handed to the device so far (answered at once, also while `play` runs in another thread).
    fn played_samples(&self) -> u64 {
        self.control.played_samples()
    }

    /// Stop and release the device (safe to call twice).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        release(py, "closing playback", &self.inner)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _a: Py<PyAny>,
        _b: Py<PyAny>,
        _c: Py<PyAny>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}
