//! Capture: a cpal input stream on its own thread, converted to 16 kHz mono i16 into a ring buffer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cpal::traits::DeviceTrait;
use cpal::{FromSample, SampleFormat, SizedSample, SupportedStreamConfig};
use papo_ring::{ring, Consumer, Producer, WaitError};

use crate::error::{from_cpal, AudioError};
use crate::health::{open_device_stream, stream_config, StreamHealth, BUILD_TIMEOUT};
use crate::resample::Resampler;
use crate::stream_thread::{Opened, StreamThread};
use crate::PIPELINE_RATE;

const SCRATCH_SAMPLES: usize = 4096;

/// Counters of one capture stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureStats {
    /// 16 kHz samples delivered into the ring.
    pub captured_samples: u64,
    /// 16 kHz samples dropped because the reader fell behind.
    pub overrun_samples: u64,
    /// Callbacks that dropped samples.
    pub overrun_events: u64,
    /// Overruns the device itself reported (cpal recovered from them).
    pub device_xruns: u64,
    /// Data callbacks so far.
    pub callbacks: u64,
    /// The rate the device runs at.
    pub device_rate: u32,
    /// The channel count the device runs with.
    pub device_channels: u16,
}

/// Why a read returned without a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// No frame within the timeout.
    TimedOut,
    /// The stream is closed or the device failed.
    Stopped(AudioError),
}

#[derive(Default)]
struct Shared {
    health: Arc<StreamHealth>,
    captured: AtomicU64,
}

/// A running capture; dropping it stops the stream.
pub struct Capture {
    consumer: Consumer<i16>,
    shared: Arc<Shared>,
    thread: StreamThread,
    device_name: String,
    device_rate: u32,
    device_channels: u16,
}

fn choose_config(device: &cpal::Device, name: &str) -> Result<SupportedStreamConfig, AudioError> {
    let ranges: Vec<_> = device
        .supported_input_configs()
        .map_err(|e| from_cpal(name, "cannot query input device", &e))?
        .collect();
    let preference = |format: SampleFormat| match format {
        SampleFormat::I16 => 0,
        SampleFormat::F32 => 1,
        _ => 2,
    };
    let direct = ranges
        .iter()
        .filter(|r| r.min_sample_rate() <= PIPELINE_RATE && PIPELINE_RATE <= r.max_sample_rate())
        .min_by_key(|r| (r.channels(), preference(r.sample_format())));
    match direct {
        Some(range) => Ok((*range).with_sample_rate(PIPELINE_RATE)),
        None => device
            .default_input_config()
            .map_err(|e| from_cpal(name, "cannot configure input device", &e)),
    }
}

fn callback<T>(
    mut producer: Producer<i16>,
    channels: usize,
    device_rate: u32,
    shared: Arc<Shared>,
) -> impl FnMut(&[T], &cpal::InputCallbackInfo) + Send + 'static
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let mut resampler = Resampler::new(device_rate, PIPELINE_RATE);
    let mut scratch = vec![0i16; SCRATCH_SAMPLES].into_boxed_slice();
    move |data: &[T], _info: &cpal::InputCallbackInfo| {
        shared.health.callbacks.fetch_add(1, Ordering::Release);
        let mut filled = 0usize;
        let mut delivered = 0u64;
        for frame in data.chunks_exact(channels) {
            let mut sum = 0.0f32;
            for &sample in frame {
                sum += sample.to_sample::<f32>();
            }
            let mono = sum / channels as f32;
            resampler.push(mono, |value| {
                scratch[filled] = (value.clamp(-1.0, 1.0) * 32767.0) as i16;
                filled += 1;
                if filled == scratch.len() {
                    delivered += producer.push_slice(&scratch) as u64;
                    filled = 0;
                }
            });
        }
        delivered += producer.push_slice(&scratch[..filled]) as u64;
        shared.captured.fetch_add(delivered, Ordering::Relaxed);
    }
}

fn build_stream(
    device: &cpal::Device,
    name: &str,
    supported: &SupportedStreamConfig,
    producer: Producer<i16>,
    shared: &Arc<Shared>,
) -> Result<cpal::Stream, AudioError> {
    let config = stream_config(supported);
    let channels = usize::from(config.channels);
    let rate = config.sample_rate;
    let on_error = shared.health.error_callback(name, true);
    let shared = Arc::clone(shared);
    let timeout = Some(BUILD_TIMEOUT);
    let result = match supported.sample_format() {
        SampleFormat::I16 => device.build_input_stream(
            config,
            callback::<i16>(producer, channels, rate, shared),
            on_error,
            timeout,
        ),
        SampleFormat::F32 => device.build_input_stream(
            config,
            callback::<f32>(producer, channels, rate, shared),
            on_error,
            timeout,
        ),
        SampleFormat::I32 => device.build_input_stream(
            config,
            callback::<i32>(producer, channels, rate, shared),
            on_error,
            timeout,
        ),
        SampleFormat::U8 => device.build_input_stream(
            config,
            callback::<u8>(producer, channels, rate, shared),
            on_error,
            timeout,
        ),
        SampleFormat::F64 => device.build_input_stream(
            config,
            callback::<f64>(producer, channels, rate, shared),
            on_error,
            timeout,
        ),
        other => {
            return Err(AudioError::Unsupported(format!(
            "input device {name:?} offers only the sample format {other}, which papo cannot read"
        )))
        }
    };
    result.map_err(|e| from_cpal(name, "cannot open input device", &e))
}

fn open_stream(
    wanted: Option<String>,
    capacity: usize,
    shared: Arc<Shared>,
) -> Result<(cpal::Stream, Opened<Consumer<i16>>), AudioError> {
    open_device_stream(
        wanted.as_deref(),
        true,
        &shared.health,
        choose_config,
        |device, name, supported| {
            let (producer, consumer) = ring::<i16>(capacity);
            Ok((
                build_stream(device, name, supported, producer, &shared)?,
                consumer,
            ))
        },
    )
}

impl Capture {
    /// Open `device` (id or part of its name; default input if `None`) and start capturing.
    ///
    /// `ring_seconds` of 16 kHz audio are buffered before samples are dropped as overruns.
    pub fn start(device: Option<&str>, ring_seconds: f32) -> Result<Self, AudioError> {
        let capacity = (ring_seconds.max(0.1) * PIPELINE_RATE as f32) as usize;
        let shared = Arc::new(Shared::default());
        let wanted = device.map(str::to_string);
        let for_thread = Arc::clone(&shared);
        let (thread, opened) = StreamThread::spawn("papo-capture", move || {
            open_stream(wanted, capacity, for_thread)
        })?;
        Ok(Self {
            consumer: opened.end,
            shared,
            thread,
            device_name: opened.name,
            device_rate: opened.rate,
            device_channels: opened.channels,
        })
    }

    /// The device's readable name.
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// Fill `out` with the next 16 kHz samples, waiting up to `timeout`.
    pub fn read(&mut self, out: &mut [i16], timeout: Duration) -> Result<(), ReadError> {
        if let Some(message) = self.shared.health.failure() {
            return Err(ReadError::Stopped(AudioError::Failed(message)));
        }
        if !self.thread.is_running() {
            return Err(ReadError::Stopped(AudioError::Failed(format!(
                "the capture from {:?} is closed",
                self.device_name
            ))));
        }
        match self.consumer.pop_exact(out, timeout, PIPELINE_RATE) {
            Ok(()) => Ok(()),
            Err(WaitError::TimedOut) => match self.shared.health.failure() {
                Some(message) => Err(ReadError::Stopped(AudioError::Failed(message))),
                None => Err(ReadError::TimedOut),
            },
            Err(WaitError::Closed) => Err(ReadError::Stopped(AudioError::Failed(format!(
                "the capture from {:?} stopped",
                self.device_name
            )))),
        }
    }

    /// Samples waiting in the ring.
    pub fn available(&self) -> usize {
        self.consumer.available()
    }

    /// The stream's counters.
    pub fn stats(&self) -> CaptureStats {
        let ring = self.consumer.stats();
        CaptureStats {
            captured_samples: self.shared.captured.load(Ordering::Relaxed),
            overrun_samples: ring.overrun_samples,
            overrun_events: ring.overrun_events,
            device_xruns: self.shared.health.xruns.load(Ordering::Relaxed),
            callbacks: self.shared.health.callbacks.load(Ordering::Relaxed),
            device_rate: self.device_rate,
            device_channels: self.device_channels,
        }
    }

    /// Stop the stream and release the device (idempotent).
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}
