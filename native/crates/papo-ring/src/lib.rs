//! A lock-free single-producer single-consumer ring buffer for audio samples.
//!
//! The producer (an audio callback) never blocks, allocates or locks: when the ring is full the
//! samples that do not fit are dropped and counted as an overrun. The consumer may wait for data
//! with [`Consumer::pop_exact`], which sleeps for about as long as the missing samples take to arrive.

mod wake;

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[repr(align(64))]
struct Padded<T>(T);

struct Shared<T> {
    slots: Box<[UnsafeCell<T>]>,
    mask: usize,
    /// Total samples ever written (owned by the producer).
    head: Padded<AtomicUsize>,
    /// Total samples ever read (owned by the consumer).
    tail: Padded<AtomicUsize>,
    overrun_samples: AtomicU64,
    overrun_events: AtomicU64,
    producer_closed: AtomicBool,
    wake: wake::Wake,
}

// SAFETY: slots are written only by the one producer in [tail, head + free) and read only by the
// one consumer in [tail, head); the head/tail atomics (release/acquire) order those accesses.
unsafe impl<T: Send> Sync for Shared<T> {}
unsafe impl<T: Send> Send for Shared<T> {}

/// The writing end; exactly one exists per ring.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
}

/// The reading end; exactly one exists per ring.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
}

/// Counters a ring keeps about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingStats {
    /// Samples that did not fit and were dropped.
    pub overrun_samples: u64,
    /// Pushes that dropped at least one sample.
    pub overrun_events: u64,
    /// Samples currently waiting to be read.
    pub available: usize,
    /// Samples the ring can hold.
    pub capacity: usize,
}

/// Why [`Consumer::pop_exact`] returned without data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitError {
    /// Not enough samples arrived before the timeout.
    TimedOut,
    /// The producer is gone and fewer samples than asked remain.
    Closed,
}

/// Create a ring holding at least `capacity` samples (rounded up to a power of two).
pub fn ring<T: Copy + Default + Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let size = capacity.max(2).next_power_of_two();
    let slots = (0..size).map(|_| UnsafeCell::new(T::default())).collect();
    let shared = Arc::new(Shared {
        slots,
        mask: size - 1,
        head: Padded(AtomicUsize::new(0)),
        tail: Padded(AtomicUsize::new(0)),
        overrun_samples: AtomicU64::new(0),
        overrun_events: AtomicU64::new(0),
        producer_closed: AtomicBool::new(false),
        wake: wake::Wake::default(),
    });
    (
        Producer {
            shared: Arc::clone(&shared),
        },
        Consumer { shared },
    )
}

impl<T> Shared<T> {
    fn capacity(&self) -> usize {
        self.mask + 1
    }

    fn stats(&self) -> RingStats {
        let head = self.head.0.load(Ordering::Acquire);
        let tail = self.tail.0.load(Ordering::Acquire);
        RingStats {
            overrun_samples: self.overrun_samples.load(Ordering::Relaxed),
            overrun_events: self.overrun_events.load(Ordering::Relaxed),
            available: head.wrapping_sub(tail),
            capacity: self.capacity(),
        }
    }
}

impl<T: Copy> Producer<T> {
    /// Append as many of `data` as fit; the rest is dropped and counted. Returns how many were written.
    pub fn push_slice(&mut self, data: &[T]) -> usize {
        let shared = &*self.shared;
        let head = shared.head.0.load(Ordering::Relaxed);
        let tail = shared.tail.0.load(Ordering::Acquire);
        let free = shared.capacity() - head.wrapping_sub(tail);
        let count = data.len().min(free);
        for (offset, value) in data[..count].iter().enumerate() {
            let index = head.wrapping_add(offset) & shared.mask;
            // SAFETY: the slot lies in the free region, which the consumer does not read.
            unsafe { *shared.slots[index].get() = *value };
        }
        shared
            .head
            .0
            .store(head.wrapping_add(count), Ordering::Release);
        shared
            .wake
            .pushed(head.wrapping_add(count).wrapping_sub(tail));
        if count < data.len() {
            shared
                .overrun_samples
                .fetch_add((data.len() - count) as u64, Ordering::Relaxed);
            shared.overrun_events.fetch_add(1, Ordering::Relaxed);
        }
        count
    }

    /// Room left, in samples.
    pub fn free(&self) -> usize {
        let shared = &*self.shared;
        shared.capacity()
            - shared
                .head
                .0
                .load(Ordering::Relaxed)
                .wrapping_sub(shared.tail.0.load(Ordering::Acquire))
    }

    /// The ring's counters.
    pub fn stats(&self) -> RingStats {
        self.shared.stats()
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.shared.producer_closed.store(true, Ordering::Release);
        self.shared.wake.closed();
    }
}

impl<T: Copy> Consumer<T> {
    /// Move up to `out.len()` samples into `out`; returns how many were read.
    pub fn pop_slice(&mut self, out: &mut [T]) -> usize {
        let shared = &*self.shared;
        let tail = shared.tail.0.load(Ordering::Relaxed);
        let head = shared.head.0.load(Ordering::Acquire);
        let count = out.len().min(head.wrapping_sub(tail));
        for (offset, slot) in out[..count].iter_mut().enumerate() {
            let index = tail.wrapping_add(offset) & shared.mask;
            // SAFETY: the slot lies in the filled region, which the producer does not write.
            *slot = unsafe { *shared.slots[index].get() };
        }
        shared
            .tail
            .0
            .store(tail.wrapping_add(count), Ordering::Release);
        count
    }

    /// Fill all of `out`, waiting up to `timeout`; on failure nothing is consumed.
    ///
    /// The reader sleeps until the writer has pushed enough (a futex wake on Linux; `rate`, in
    /// samples per second, bounds the fallback sleep elsewhere).
    pub fn pop_exact(
        &mut self,
        out: &mut [T],
        timeout: Duration,
        rate: u32,
    ) -> Result<(), WaitError> {
        if out.len() > self.shared.capacity() {
            return Err(WaitError::TimedOut);
        }
        let deadline = Instant::now() + timeout;
        let shared = Arc::clone(&self.shared);
        let wake = &shared.wake;
        let result = loop {
            let token = wake.token(out.len());
            if self.available() >= out.len() {
                self.pop_slice(out);
                break Ok(());
            }
            if self.shared.producer_closed.load(Ordering::Acquire) {
                break Err(WaitError::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                break Err(WaitError::TimedOut);
            }
            let missing = (out.len() - self.available()) as u64;
            let expected = Duration::from_micros(missing * 1_000_000 / u64::from(rate.max(1)));
            // Bounded so a lost wake (never expected) costs at most a frame's worth of delay.
            wake.wait(
                token,
                (deadline - now).min(expected.max(Duration::from_millis(5)) * 4),
            );
        };
        wake.done();
        result
    }

    /// Drop everything waiting to be read (used to stop playback at once).
    pub fn clear(&mut self) -> usize {
        let shared = &*self.shared;
        let head = shared.head.0.load(Ordering::Acquire);
        let tail = shared.tail.0.load(Ordering::Relaxed);
        shared.tail.0.store(head, Ordering::Release);
        head.wrapping_sub(tail)
    }

    /// Samples waiting to be read.
    pub fn available(&self) -> usize {
        let shared = &*self.shared;
        shared
            .head
            .0
            .load(Ordering::Acquire)
            .wrapping_sub(shared.tail.0.load(Ordering::Relaxed))
    }

    /// True once the producer has been dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.producer_closed.load(Ordering::Acquire)
    }

    /// The ring's counters.
    pub fn stats(&self) -> RingStats {
        self.shared.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_rounds_up_to_a_power_of_two() {
        let (producer, _consumer) = ring::<i16>(1000);
        assert_eq!(producer.stats().capacity, 1024);
    }

    #[test]
    fn wraps_around_many_times_in_order() {
        let (mut producer, mut consumer) = ring::<u32>(8);
        let mut next_in = 0u32;
        let mut next_out = 0u32;
        let mut out = [0u32; 5];
        for _ in 0..1000 {
            let batch: Vec<u32> = (next_in..next_in + 5).collect();
            assert_eq!(producer.push_slice(&batch), 5);
            next_in += 5;
            assert_eq!(consumer.pop_slice(&mut out), 5);
            for value in out {
                assert_eq!(value, next_out);
                next_out += 1;
            }
        }
        assert_eq!(consumer.stats().overrun_samples, 0);
    }

    #[test]
    fn overrun_drops_the_excess_and_counts_it() {
        let (mut producer, mut consumer) = ring::<i16>(8);
        assert_eq!(producer.push_slice(&[1; 6]), 6);
        assert_eq!(producer.push_slice(&[2; 6]), 2);
        let stats = consumer.stats();
        assert_eq!(
            (stats.overrun_samples, stats.overrun_events, stats.available),
            (4, 1, 8)
        );
        let mut out = [0i16; 8];
        assert_eq!(consumer.pop_slice(&mut out), 8);
        assert_eq!(out, [1, 1, 1, 1, 1, 1, 2, 2]);
    }

    #[test]
    fn pop_exact_times_out_without_consuming() {
        let (mut producer, mut consumer) = ring::<i16>(16);
        producer.push_slice(&[7; 3]);
        let mut out = [0i16; 4];
        let result = consumer.pop_exact(&mut out, Duration::from_millis(5), 16_000);
        assert_eq!(result, Err(WaitError::TimedOut));
        assert_eq!(consumer.available(), 3);
    }

    #[test]
    fn pop_exact_reports_a_closed_producer() {
        let (producer, mut consumer) = ring::<i16>(16);
        drop(producer);
        let mut out = [0i16; 4];
        assert_eq!(
            consumer.pop_exact(&mut out, Duration::from_secs(1), 16_000),
            Err(WaitError::Closed)
        );
        assert!(consumer.is_closed());
    }

    #[test]
    fn clear_discards_everything_pending() {
        let (mut producer, mut consumer) = ring::<f32>(16);
        producer.push_slice(&[0.5; 10]);
        assert_eq!(consumer.clear(), 10);
        assert_eq!(consumer.available(), 0);
        assert_eq!(producer.free(), 16);
    }

    #[test]
    fn concurrent_producer_and_consumer_keep_every_sample_in_order() {
        const TOTAL: u64 = 2_000_000;
        let (mut producer, mut consumer) = ring::<u64>(1024);
        let writer = std::thread::spawn(move || {
            let mut next = 0u64;
            let mut batch = [0u64; 61];
            while next < TOTAL {
                let count = (TOTAL - next).min(batch.len() as u64) as usize;
                for (i, slot) in batch[..count].iter_mut().enumerate() {
                    *slot = next + i as u64;
                }
                while producer.free() < count {
                    std::hint::spin_loop();
                }
                assert_eq!(producer.push_slice(&batch[..count]), count);
                next += count as u64;
            }
        });
        let mut expected = 0u64;
        let mut out = [0u64; 97];
        while expected < TOTAL {
            let got = consumer.pop_slice(&mut out);
            for value in &out[..got] {
                assert_eq!(*value, expected);
                expected += 1;
            }
        }
        writer.join().expect("writer thread");
        assert_eq!(consumer.stats().overrun_samples, 0);
    }

    #[test]
    fn waiting_consumer_wakes_when_data_arrives() {
        let (mut producer, mut consumer) = ring::<i16>(4096);
        let writer = std::thread::spawn(move || {
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(4));
                producer.push_slice(&[3; 64]);
            }
            producer
        });
        let mut out = [0i16; 512];
        consumer
            .pop_exact(&mut out, Duration::from_secs(5), 16_000)
            .expect("512 samples arrive in time");
        assert!(out.iter().all(|&s| s == 3));
        drop(writer.join());
    }
}
