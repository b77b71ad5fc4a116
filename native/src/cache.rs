//! The Python face of the sled cache.

use std::path::PathBuf;
use std::sync::RwLock;

use papo_cache::{CacheConfig, OpenOutcome};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::{guarded, CacheError, CacheLockedError};

fn to_py(error: papo_cache::CacheError) -> PyErr {
    match error {
        papo_cache::CacheError::Locked(m) => CacheLockedError::new_err(m),
        papo_cache::CacheError::InvalidKey(m) => PyValueError::new_err(m),
        other => CacheError::new_err(other.to_string()),
    }
}

/// A bounded on-disk cache (sled): namespaces, TTL, eviction, a size watchdog, self-repair.
#[pyclass(module = "papo._native", frozen)]
pub struct Cache {
    inner: RwLock<Option<papo_cache::Cache>>,
    #[pyo3(get)]
    open_outcome: String,
    #[pyo3(get)]
    rebuild_reason: Option<String>,
}

impl Cache {
    fn with<T>(
        &self,
        what: &str,
        f: impl FnOnce(&papo_cache::Cache) -> PyResult<T>,
    ) -> PyResult<T> {
        guarded(what, || {
            let guard = self.inner.read().unwrap_or_else(|p| p.into_inner());
            f(guard
                .as_ref()
                .ok_or_else(|| CacheError::new_err("the cache is closed"))?)
        })
    }
}

#[pymethods]
impl Cache {
    /// Open (or create, or rebuild) the cache in directory `path`.
    #[new]
    #[pyo3(signature = (path, max_bytes=64<<20, max_disk_bytes=512<<20, max_disk_ratio=8.0, min_disk_bytes=16<<20, flush_every_ms=Some(5000), page_cache_bytes=8<<20, memory_bytes=4<<20))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        max_bytes: u64,
        max_disk_bytes: u64,
        max_disk_ratio: f64,
        min_disk_bytes: u64,
        flush_every_ms: Option<u64>,
        page_cache_bytes: u64,
        memory_bytes: u64,
    ) -> PyResult<Self> {
        if max_bytes == 0
            || max_disk_bytes == 0
            || !(max_disk_ratio.is_finite() && max_disk_ratio > 1.0)
        {
            return Err(PyValueError::new_err(
                "max_bytes and max_disk_bytes must be > 0 and max_disk_ratio > 1",
            ));
        }
        let config = CacheConfig {
            dir: path,
            max_logical_bytes: max_bytes,
            max_disk_bytes,
            max_disk_ratio,
            min_disk_bytes,
            flush_every_ms,
            page_cache_bytes,
            memory_bytes,
        };
        let cache = guarded("opening the cache", || {
            py.detach(|| papo_cache::Cache::open(config)).map_err(to_py)
        })?;
        let (open_outcome, rebuild_reason) = match cache.open_outcome() {
            OpenOutcome::Opened => ("opened".to_string(), None),
            OpenOutcome::Created => ("created".to_string(), None),
            OpenOutcome::Rebuilt(reason) => ("rebuilt".to_string(), Some(reason.clone())),
        };
        Ok(Self {
            inner: RwLock::new(Some(cache)),
            open_outcome,
            rebuild_reason,
        })
    }

    /// The bytes stored under namespace/key, or None (missing or expired).
    fn get<'py>(
        &self,
        py: Python<'py>,
        namespace: &str,
        key: &[u8],
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.with("reading the cache", |cache| {
            Ok(cache
                .get(namespace, key)
                .map_err(to_py)?
                .map(|v| PyBytes::new(py, &v)))
        })
    }

    /// Store `value` under namespace/key; it expires after `ttl` seconds (never if None).
    #[pyo3(signature = (namespace, key, value, ttl=None))]
    fn put(&self, namespace: &str, key: &[u8], value: &[u8], ttl: Option<f64>) -> PyResult<()> {
        let ttl_ms = match ttl {
            None => None,
            Some(seconds) if seconds.is_finite() && seconds > 0.0 => {
                Some((seconds * 1000.0).ceil() as u64)
            }
            Some(seconds) => {
                return Err(PyValueError::new_err(format!(
                    "ttl must be > 0 seconds, got {seconds}"
                )))
            }
        };
        self.with("writing the cache", |cache| {
            cache.put(namespace, key, value, ttl_ms).map_err(to_py)
        })
    }

    /// Remove namespace/key; True if it was there.
    fn delete(&self, namespace: &str, key: &[u8]) -> PyResult<bool> {
        self.with("deleting from the cache", |cache| {
            cache.delete(namespace, key).map_err(to_py)
        })
    }

    /// Remove every entry of `namespace`; returns how many.
    fn clear_namespace(&self, py: Python<'_>, namespace: &str) -> PyResult<u64> {
        self.with("clearing a cache namespace", |cache| {
            py.detach(|| cache.clear_namespace(namespace))
                .map_err(to_py)
        })
    }

    /// Remove every entry and recreate the cache's files empty (nothing is left on disk); how many there were.
    fn wipe(&self, py: Python<'_>) -> PyResult<u64> {
        self.with("wiping the cache", |cache| {
            py.detach(|| cache.wipe()).map_err(to_py)
        })
    }

    /// Write everything to disk now.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.with("flushing the cache", |cache| {
            py.detach(|| cache.flush()).map_err(to_py)
        })
    }

    /// Run the size watchdog; returns why the cache was wiped, or None.
    fn check(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.with("checking the cache size", |cache| {
            py.detach(|| cache.check()).map_err(to_py)
        })
    }

    /// entries, logical_bytes, disk_bytes, evictions, rebuilds.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = self.with("reading cache statistics", |cache| {
            Ok(py.detach(|| cache.stats()))
        })?;
        let dict = PyDict::new(py);
        dict.set_item("entries", stats.entries)?;
        dict.set_item("logical_bytes", stats.logical_bytes)?;
        dict.set_item("disk_bytes", stats.disk_bytes)?;
        dict.set_item("evictions", stats.evictions)?;
        dict.set_item("rebuilds", stats.rebuilds)?;
        Ok(dict)
    }

    /// Flush and close (safe to call twice); the directory lock is released.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        guarded("closing the cache", || {
            let taken = self.inner.write().unwrap_or_else(|p| p.into_inner()).take();
            py.detach(move || drop(taken));
            Ok(())
        })
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
