//! Stream health shared by a stream's callbacks and its owner, and a start-up that survives flaky starts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::devices::find_device;
use crate::error::{from_cpal, AudioError};
use crate::stream_thread::Opened;

const START_ATTEMPTS: u32 = 4;
/// The period asked of devices, so frames arrive steadily and soon.
const PERIOD_MS: u32 = 32;
/// How long cpal may take to build a stream.
pub(crate) const BUILD_TIMEOUT: Duration = Duration::from_secs(5);
const FIRST_CALLBACK_WAIT: Duration = Duration::from_millis(400);

/// What the error callback reports and what the data callback counts.
#[derive(Default)]
pub(crate) struct StreamHealth {
    failed: AtomicBool,
    error: Mutex<Option<String>>,
    pub(crate) callbacks: AtomicU64,
    /// Over- and underruns cpal reported and recovered from.
    pub(crate) xruns: AtomicU64,
}

impl StreamHealth {
    /// Record a stream failure (called from cpal's error callback, not the data callback).
    pub(crate) fn fail(&self, message: String) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(message);
        }
        self.failed.store(true, Ordering::Release);
    }

    /// cpal's error callback for a stream on `device`: xruns and reroutes, which cpal recovers from, are
    /// counted; anything else fails the stream.
    pub(crate) fn error_callback(
        self: &Arc<Self>,
        device: &str,
        input: bool,
    ) -> impl FnMut(cpal::Error) + Send + 'static {
        let health = Arc::clone(self);
        let device = device.to_string();
        let action = if input {
            "input device failed:"
        } else {
            "output device failed:"
        };
        move |error: cpal::Error| match error.kind() {
            cpal::ErrorKind::Xrun | cpal::ErrorKind::DeviceChanged => {
                health.xruns.fetch_add(1, Ordering::Relaxed);
            }
            _ => health.fail(from_cpal(&device, action, &error).to_string()),
        }
    }

    /// The failure message, if the stream failed.
    pub(crate) fn failure(&self) -> Option<String> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        Some(
            self.error
                .lock()
                .ok()
                .and_then(|slot| slot.clone())
                .unwrap_or_else(|| "the audio stream failed".to_string()),
        )
    }

    fn reset(&self) {
        if let Ok(mut slot) = self.error.lock() {
            *slot = None;
        }
        self.failed.store(false, Ordering::Release);
        self.callbacks.store(0, Ordering::Release);
    }
}

/// Build and start a stream, retrying when it fails before its first callback.
///
/// Some ALSA plugins (PulseAudio's, seen here) report an I/O error right after a stream starts now and
/// then; a second start works. A device that keeps failing is reported with the last error.
pub(crate) fn start_stream<T>(
    health: &StreamHealth,
    mut build: impl FnMut() -> Result<(cpal::Stream, T), AudioError>,
) -> Result<(cpal::Stream, T), AudioError> {
    let mut last = None;
    for _ in 0..START_ATTEMPTS {
        health.reset();
        let (stream, extra) = build()?;
        let deadline = Instant::now() + FIRST_CALLBACK_WAIT;
        while health.callbacks.load(Ordering::Acquire) == 0
            && health.failure().is_none()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        match health.failure() {
            None => return Ok((stream, extra)),
            Some(message) => {
                drop(stream);
                last = Some(message);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    Err(AudioError::Failed(last.unwrap_or_else(|| {
        "the audio stream failed to start".into()
    })))
}

/// The stream configuration papo asks for: the device's format with a 32 ms period where allowed.
pub(crate) fn stream_config(supported: &cpal::SupportedStreamConfig) -> cpal::StreamConfig {
    let mut config = supported.config();
    let wanted = supported.sample_rate() / 1000 * PERIOD_MS;
    config.buffer_size = match supported.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } => {
            cpal::BufferSize::Fixed(wanted.clamp(*min, *max))
        }
        cpal::SupportedBufferSize::Unknown => cpal::BufferSize::Default,
    };
    config
}

/// Find the device, pick its configuration and start a stream on it, retrying a flaky start.
///
/// `build` makes the (not yet playing) stream and returns the caller's end of its ring buffer.
pub(crate) fn open_device_stream<E>(
    wanted: Option<&str>,
    input: bool,
    health: &StreamHealth,
    choose: impl Fn(&cpal::Device, &str) -> Result<cpal::SupportedStreamConfig, AudioError>,
    mut build: impl FnMut(
        &cpal::Device,
        &str,
        &cpal::SupportedStreamConfig,
    ) -> Result<(cpal::Stream, E), AudioError>,
) -> Result<(cpal::Stream, Opened<E>), AudioError> {
    use cpal::traits::StreamTrait;

    let (device, name) = find_device(wanted, input)?;
    let supported = choose(&device, &name)?;
    let action = if input {
        "cannot start input device"
    } else {
        "cannot start output device"
    };
    let (stream, end) = start_stream(health, || {
        let (stream, end) = build(&device, &name, &supported)?;
        stream.play().map_err(|e| from_cpal(&name, action, &e))?;
        Ok((stream, end))
    })?;
    let opened = Opened {
        name,
        rate: supported.sample_rate(),
        channels: supported.channels(),
        end,
    };
    Ok((stream, opened))
}
