//! Audio capture and playback on cpal (ALSA on Linux) for the papo daemon.
//!
//! Capture delivers 16 kHz mono i16 through a lock-free ring buffer; playback takes mono f32 at any
//! rate. Each cpal stream lives on its own thread; the data callbacks never allocate, lock or block.

#[cfg(target_os = "linux")]
pub mod alsa_log;
pub mod capture;
pub mod devices;
pub mod error;
mod health;
pub mod playback;
pub mod resample;
mod stream_thread;

pub use capture::{Capture, CaptureStats};
pub use devices::{list_devices, DeviceInfo};
pub use error::AudioError;
pub use playback::Playback;

/// The pipeline's sample rate.
pub const PIPELINE_RATE: u32 = 16_000;
