//! The thread that owns one cpal stream: the stream is built, kept and dropped there, never elsewhere.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::AudioError;

const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What opening a stream gave: the device's name and format, and the caller's end of the ring.
pub(crate) struct Opened<T> {
    pub(crate) name: String,
    pub(crate) rate: u32,
    pub(crate) channels: u16,
    pub(crate) end: T,
}

/// A running stream thread; dropping it stops the stream and joins the thread.
pub(crate) struct StreamThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl StreamThread {
    /// Run `open` on a new thread; keep the stream it builds alive there until `stop`.
    pub(crate) fn spawn<T: Send + 'static>(
        thread_name: &str,
        open: impl FnOnce() -> Result<(cpal::Stream, Opened<T>), AudioError> + Send + 'static,
    ) -> Result<(Self, Opened<T>), AudioError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let handle = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(thread_name.into())
                .spawn(move || match open() {
                    Ok((stream, opened)) => {
                        if ready_tx.send(Ok(opened)).is_err() {
                            return;
                        }
                        while !stop.load(Ordering::Acquire) {
                            std::thread::park_timeout(Duration::from_millis(100));
                        }
                        drop(stream);
                    }
                    Err(error) => {
                        // The receiver waits below; if it gave up there is no one left to tell.
                        let _ = ready_tx.send(Err(error));
                    }
                })
                .map_err(|e| {
                    AudioError::Failed(format!("cannot start the {thread_name} thread: {e}"))
                })?
        };
        let mut thread = Self {
            stop,
            handle: Some(handle),
        };
        let opened = ready_rx.recv_timeout(START_TIMEOUT).unwrap_or_else(|_| {
            Err(AudioError::Failed(format!(
                "the audio device did not start within {} s",
                START_TIMEOUT.as_secs()
            )))
        });
        match opened {
            Ok(opened) => Ok((thread, opened)),
            Err(error) => {
                thread.stop();
                Err(error)
            }
        }
    }

    /// True until `stop`.
    pub(crate) fn is_running(&self) -> bool {
        self.handle.is_some()
    }

    /// Stop the stream and join the thread (idempotent).
    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        self.stop();
    }
}
