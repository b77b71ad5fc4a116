//! Finding audio devices by name and describing them.

use cpal::traits::{DeviceTrait, HostTrait};

use crate::error::{from_cpal, AudioError};

/// One audio device as a person would want to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The identifier to open it with (ALSA PCM name, e.g. `default`, `hw:CARD=0,DEV=0`).
    pub id: String,
    /// A readable name.
    pub name: String,
    /// It can record.
    pub input: bool,
    /// It can play.
    pub output: bool,
    /// It is the system's default input.
    pub default_input: bool,
    /// It is the system's default output.
    pub default_output: bool,
}

fn device_id(device: &cpal::Device) -> String {
    device
        .id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| device.to_string())
}

fn device_name(device: &cpal::Device) -> String {
    device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|_| device_id(device))
}

/// Every device the audio host knows, defaults marked.
pub fn list_devices() -> Result<Vec<DeviceInfo>, AudioError> {
    let host = cpal::default_host();
    let default_in = host.default_input_device().map(|d| device_id(&d));
    let default_out = host.default_output_device().map(|d| device_id(&d));
    let devices = host
        .devices()
        .map_err(|e| from_cpal("audio host", "cannot list devices of", &e))?;
    Ok(devices
        .map(|device| {
            let id = device_id(&device);
            DeviceInfo {
                name: device_name(&device),
                input: device.supports_input(),
                output: device.supports_output(),
                default_input: default_in.as_deref() == Some(id.as_str()),
                default_output: default_out.as_deref() == Some(id.as_str()),
                id,
            }
        })
        .collect())
}

/// Open the device called `wanted` (its id, or part of its name), or the default one.
pub(crate) fn find_device(
    wanted: Option<&str>,
    input: bool,
) -> Result<(cpal::Device, String), AudioError> {
    let host = cpal::default_host();
    let kind = if input { "input" } else { "output" };
    let Some(wanted) = wanted else {
        let device = if input {
            host.default_input_device()
        } else {
            host.default_output_device()
        };
        return device
            .map(|d| {
                let name = device_name(&d);
                (d, name)
            })
            .ok_or_else(|| {
                AudioError::NoDevice(format!(
                    "no audio device: there is no default {kind} device"
                ))
            });
    };
    let devices: Vec<cpal::Device> = host
        .devices()
        .map_err(|e| from_cpal(wanted, "cannot look for", &e))?
        .filter(|d| {
            if input {
                d.supports_input()
            } else {
                d.supports_output()
            }
        })
        .collect();
    let lowered = wanted.to_lowercase();
    let exact = devices
        .iter()
        .position(|d| device_id(d) == wanted || device_name(d) == wanted);
    let partial = || {
        devices.iter().position(|d| {
            device_id(d).to_lowercase().contains(&lowered)
                || device_name(d).to_lowercase().contains(&lowered)
        })
    };
    match exact.or_else(partial) {
        Some(index) => {
            let device = devices
                .into_iter()
                .nth(index)
                .expect("index from the same list");
            let name = device_name(&device);
            Ok((device, name))
        }
        None => Err(AudioError::NoDevice(format!(
            "no audio device: no {kind} device matches {wanted:?}"
        ))),
    }
}
