//! Playback: a cpal output stream on its own thread, fed mono samples through a ring; `stop` empties it at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::DeviceTrait;
use cpal::{FromSample, SampleFormat, SizedSample, SupportedStreamConfig};
use papo_ring::{ring, Consumer, Producer};

use crate::error::{from_cpal, AudioError};
use crate::health::{open_device_stream, stream_config, StreamHealth, BUILD_TIMEOUT};
use crate::resample::Resampler;
use crate::stream_thread::{Opened, StreamThread};

const RING_SECONDS: f32 = 2.0;
const CALLBACK_SCRATCH: usize = 8192;

#[derive(Default)]
struct Shared {
    /// Set by `stop`, taken by the callback, which then empties the queue.
    flush: AtomicBool,
    /// Bumped by every `stop`, so a `play` in progress knows it was cut short.
    stops: AtomicU64,
    health: Arc<StreamHealth>,
    played: AtomicU64,
}

/// Stops a [`Playback`] and reads its progress from any thread, even while another thread is inside `play`.
#[derive(Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

impl Control {
    /// Drop everything queued; the device goes silent within one callback period.
    pub fn stop(&self) {
        self.shared.stops.fetch_add(1, Ordering::AcqRel);
        self.shared.flush.store(true, Ordering::Release);
    }

    /// Samples handed to the device so far.
    pub fn played_samples(&self) -> u64 {
        self.shared.played.load(Ordering::Relaxed)
    }
}

/// A running output stream; dropping it stops the stream.
pub struct Playback {
    producer: Producer<f32>,
    shared: Arc<Shared>,
    thread: StreamThread,
    device_name: String,
    device_rate: u32,
    device_channels: u16,
}

fn callback<T>(
    mut consumer: Consumer<f32>,
    channels: usize,
    shared: Arc<Shared>,
) -> impl FnMut(&mut [T], &cpal::OutputCallbackInfo) + Send + 'static
where
    T: SizedSample + FromSample<f32>,
{
    let mut scratch = vec![0.0f32; CALLBACK_SCRATCH].into_boxed_slice();
    move |data: &mut [T], _info: &cpal::OutputCallbackInfo| {
        shared.health.callbacks.fetch_add(1, Ordering::Release);
        if shared.flush.swap(false, Ordering::AcqRel) {
            consumer.clear();
        }
        let silence = T::from_sample(0.0f32);
        let mut played = 0u64;
        for chunk in data.chunks_mut(channels * scratch.len()) {
            let frames = chunk.len() / channels;
            let got = consumer.pop_slice(&mut scratch[..frames]);
            played += got as u64;
            for (index, frame) in chunk.chunks_mut(channels).enumerate() {
                let value = if index < got {
                    T::from_sample(scratch[index])
                } else {
                    silence
                };
                frame.fill(value);
            }
        }
        shared.played.fetch_add(played, Ordering::Relaxed);
    }
}

fn choose_config(device: &cpal::Device, name: &str) -> Result<SupportedStreamConfig, AudioError> {
    device
        .default_output_config()
        .map_err(|e| from_cpal(name, "cannot configure output device", &e))
}

fn build_stream(
    device: &cpal::Device,
    name: &str,
    supported: &SupportedStreamConfig,
    consumer: Consumer<f32>,
    shared: &Arc<Shared>,
) -> Result<cpal::Stream, AudioError> {
    let config = stream_config(supported);
    let channels = usize::from(config.channels);
    let on_error = shared.health.error_callback(name, false);
    let shared = Arc::clone(shared);
    let timeout = Some(BUILD_TIMEOUT);
    let result = match supported.sample_format() {
        SampleFormat::F32 => device.build_output_stream(
            config,
            callback::<f32>(consumer, channels, shared),
            on_error,
            timeout,
        ),
        SampleFormat::I16 => device.build_output_stream(
            config,
            callback::<i16>(consumer, channels, shared),
            on_error,
            timeout,
        ),
        SampleFormat::I32 => device.build_output_stream(
            config,
            callback::<i32>(consumer, channels, shared),
            on_error,
            timeout,
        ),
        SampleFormat::U8 => device.build_output_stream(
            config,
            callback::<u8>(consumer, channels, shared),
            on_error,
            timeout,
        ),
        other => {
            return Err(AudioError::Unsupported(format!(
            "output device {name:?} offers only the sample format {other}, which papo cannot write"
        )))
        }
    };
    result.map_err(|e| from_cpal(name, "cannot open output device", &e))
}

fn open_stream(
    wanted: Option<String>,
    shared: Arc<Shared>,
) -> Result<(cpal::Stream, Opened<Producer<f32>>), AudioError> {
    open_device_stream(
        wanted.as_deref(),
        false,
        &shared.health,
        choose_config,
        |device, name, supported| {
            let capacity = (RING_SECONDS * supported.sample_rate() as f32) as usize;
            let (producer, consumer) = ring::<f32>(capacity);
            Ok((
                build_stream(device, name, supported, consumer, &shared)?,
                producer,
            ))
        },
    )
}

impl Playback {
    /// Open `device` (id or part of its name; default output if `None`) for playing.
    pub fn start(device: Option<&str>) -> Result<Self, AudioError> {
        let shared = Arc::new(Shared::default());
        let wanted = device.map(str::to_string);
        let for_thread = Arc::clone(&shared);
        let (thread, opened) =
            StreamThread::spawn("papo-playback", move || open_stream(wanted, for_thread))?;
        Ok(Self {
            producer: opened.end,
            shared,
            thread,
            device_name: opened.name,
            device_rate: opened.rate,
            device_channels: opened.channels,
        })
    }

    fn check(&self) -> Result<(), AudioError> {
        if !self.thread.is_running() {
            return Err(AudioError::Failed(format!(
                "the playback on {:?} is closed",
                self.device_name
            )));
        }
        if let Some(message) = self.shared.health.failure() {
            return Err(AudioError::Failed(message));
        }
        Ok(())
    }

    /// Queue mono `samples` at `rate` Hz; blocks while the queue is full. Returns false if `stop` cut it short.
    pub fn play(&mut self, samples: &[f32], rate: u32) -> Result<bool, AudioError> {
        self.check()?;
        let stops_before = self.shared.stops.load(Ordering::Acquire);
        let mut converted = Vec::with_capacity(
            samples.len() * self.device_rate as usize / rate.max(1) as usize + 64,
        );
        let mut resampler = Resampler::new(rate, self.device_rate);
        for &sample in samples {
            resampler.push(sample, |value| converted.push(value));
        }
        let mut rest = &converted[..];
        while !rest.is_empty() {
            self.check()?;
            if self.shared.stops.load(Ordering::Acquire) != stops_before {
                return Ok(false);
            }
            let pushed = self
                .producer
                .push_slice(&rest[..rest.len().min(self.producer.free())]);
            rest = &rest[pushed..];
            if !rest.is_empty() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(true)
    }

    /// Drop everything queued; the device goes silent within one callback period.
    pub fn stop(&self) {
        self.control().stop();
    }

    /// A handle that stops this playback and reads its progress from another thread.
    pub fn control(&self) -> Control {
        Control {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Wait until everything queued was handed to the device, up to `timeout`; true if it drained.
    pub fn wait(&self, timeout: Duration) -> Result<bool, AudioError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check()?;
            if self.producer.stats().available == 0 {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Samples (at the device rate) waiting to be played.
    pub fn queued(&self) -> usize {
        self.producer.stats().available
    }

    /// The device's readable name.
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// The device's rate and channel count.
    pub fn device_format(&self) -> (u32, u16) {
        (self.device_rate, self.device_channels)
    }

    /// Samples handed to the device so far.
    pub fn played_samples(&self) -> u64 {
        self.control().played_samples()
    }

    /// Stop the stream and release the device (idempotent).
    pub fn close(&mut self) {
        self.thread.stop();
    }
}
