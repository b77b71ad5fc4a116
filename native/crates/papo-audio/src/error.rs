//! Errors of the audio layer, each naming the device involved.

use std::fmt;

/// What went wrong with an audio device or stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioError {
    /// No device matched, or the system has no audio device at all.
    NoDevice(String),
    /// The device exists but is in use by another program.
    Busy(String),
    /// The device failed while streaming (unplugged, driver error).
    Failed(String),
    /// The device cannot be used the way papo needs (format, rate, channels).
    Unsupported(String),
}

impl fmt::Display for AudioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoDevice(m) | Self::Busy(m) | Self::Failed(m) | Self::Unsupported(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for AudioError {}

/// Classify a cpal error for `device`.
pub fn from_cpal(device: &str, action: &str, error: &cpal::Error) -> AudioError {
    use cpal::ErrorKind as K;
    let message = format!("{action} {device:?}: {error}");
    match error.kind() {
        K::DeviceNotAvailable | K::HostUnavailable => AudioError::NoDevice(message),
        K::DeviceBusy => AudioError::Busy(message),
        K::UnsupportedConfig | K::UnsupportedOperation | K::InvalidInput => {
            AudioError::Unsupported(message)
        }
        _ => AudioError::Failed(message),
    }
}
