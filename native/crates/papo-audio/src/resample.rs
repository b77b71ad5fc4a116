//! Streaming windowed-sinc resampler: any rate to any rate, allocation-free after construction.

const HALF_TAPS: usize = 16;
const TAPS: usize = 2 * HALF_TAPS;
const PHASES: usize = 512;
const KAISER_BETA: f64 = 8.0;

/// Converts a mono stream from `from` Hz to `to` Hz, one input sample at a time.
pub struct Resampler {
    step: f64,
    next_output_at: f64,
    received: u64,
    history: [f32; TAPS],
    kernel: Box<[f32]>,
}

fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..50 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < 1e-12 * sum {
            break;
        }
    }
    sum
}

fn build_kernel(cutoff: f64) -> Box<[f32]> {
    let mut kernel = vec![0.0f32; PHASES * TAPS];
    let norm = bessel_i0(KAISER_BETA);
    for phase in 0..PHASES {
        let frac = phase as f64 / PHASES as f64;
        let row = &mut kernel[phase * TAPS..(phase + 1) * TAPS];
        let mut sum = 0.0;
        for (tap, slot) in row.iter_mut().enumerate() {
            // Tap `tap` weighs input sample (base - HALF_TAPS + 1 + tap); its distance to the output.
            let x = tap as f64 - (HALF_TAPS as f64 - 1.0) - frac;
            let arg = std::f64::consts::PI * cutoff * x;
            let sinc = if x.abs() < 1e-9 { 1.0 } else { arg.sin() / arg };
            let r = x / HALF_TAPS as f64;
            let window = if r.abs() >= 1.0 {
                0.0
            } else {
                bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / norm
            };
            let value = sinc * window;
            *slot = value as f32;
            sum += value;
        }
        for slot in row.iter_mut() {
            *slot = (*slot as f64 / sum) as f32;
        }
    }
    kernel.into_boxed_slice()
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz (both > 0).
    pub fn new(from: u32, to: u32) -> Self {
        let step = f64::from(from) / f64::from(to.max(1));
        let cutoff = (1.0 / step).min(1.0) * 0.92;
        Self {
            step,
            next_output_at: 0.0,
            received: 0,
            history: [0.0; TAPS],
            kernel: build_kernel(cutoff),
        }
    }

    /// True when input and output rates are equal (samples pass through unchanged).
    pub fn is_identity(&self) -> bool {
        (self.step - 1.0).abs() < f64::EPSILON
    }

    /// Feed one input sample; `emit` is called for every output sample it completes.
    #[inline]
    pub fn push(&mut self, sample: f32, mut emit: impl FnMut(f32)) {
        if self.is_identity() {
            emit(sample);
            return;
        }
        self.history[(self.received as usize) % TAPS] = sample;
        self.received += 1;
        let newest = self.received as f64 - 1.0;
        while self.next_output_at + HALF_TAPS as f64 <= newest {
            let base = self.next_output_at.floor();
            let frac = self.next_output_at - base;
            let phase = ((frac * PHASES as f64) as usize).min(PHASES - 1);
            let row = &self.kernel[phase * TAPS..(phase + 1) * TAPS];
            let first = base as i64 - (HALF_TAPS as i64 - 1);
            let mut acc = 0.0f32;
            for (tap, weight) in row.iter().enumerate() {
                let index = first + tap as i64;
                if index >= 0 {
                    acc += weight * self.history[(index as usize) % TAPS];
                }
            }
            emit(acc);
            self.next_output_at += self.step;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, seconds: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
        let mut resampler = Resampler::new(from, to);
        let mut out = Vec::new();
        for &s in input {
            resampler.push(s, |y| out.push(y));
        }
        out
    }

    /// Amplitude of `freq` in `signal` by correlation with a sine and a cosine.
    fn amplitude(signal: &[f32], rate: u32, freq: f64) -> f64 {
        let (mut s, mut c) = (0.0, 0.0);
        for (i, &x) in signal.iter().enumerate() {
            let t = 2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate);
            s += f64::from(x) * t.sin();
            c += f64::from(x) * t.cos();
        }
        2.0 * (s * s + c * c).sqrt() / signal.len() as f64
    }

    #[test]
    fn output_length_follows_the_rate_ratio() {
        for from in [44_100, 48_000, 22_050, 8_000] {
            let out = resample(&sine(from, 440.0, 1.0), from, 16_000);
            // The filter holds back HALF_TAPS input samples until more input arrives.
            let held_back = (HALF_TAPS as i64 * 16_000).div_euclid(i64::from(from)) + 2;
            assert!(
                (out.len() as i64 - 16_000).abs() <= held_back,
                "{from}: {}",
                out.len()
            );
        }
    }

    #[test]
    fn keeps_a_tone_in_the_passband() {
        for from in [48_000, 44_100] {
            let out = resample(&sine(from, 1000.0, 1.0), from, 16_000);
            let steady = &out[200..out.len() - 200];
            let amp = amplitude(steady, 16_000, 1000.0);
            assert!((amp - 0.5).abs() < 0.01, "{from}: amplitude {amp}");
        }
    }

    #[test]
    fn rejects_tones_above_the_new_nyquist() {
        // 12 kHz at 48 kHz would alias to 4 kHz at 16 kHz without filtering.
        let out = resample(&sine(48_000, 12_000.0, 1.0), 48_000, 16_000);
        let steady = &out[200..out.len() - 200];
        let leak = amplitude(steady, 16_000, 4_000.0);
        assert!(leak < 0.005, "aliased amplitude {leak}");
    }

    #[test]
    fn upsamples_too() {
        let out = resample(&sine(8_000, 500.0, 1.0), 8_000, 16_000);
        let amp = amplitude(&out[200..out.len() - 200], 16_000, 500.0);
        assert!((amp - 0.5).abs() < 0.01, "amplitude {amp}");
    }

    #[test]
    fn identity_passes_samples_through() {
        let input = sine(16_000, 440.0, 0.1);
        assert_eq!(resample(&input, 16_000, 16_000), input);
    }
}
