//! A bounded on-disk cache on sled 0.34: namespaces, TTL, a size bound with eviction, and self-repair.
//!
//! sled 0.34 is beta (corruption after abrupt stops and space amplification are known), so this cache
//! never holds the only copy of anything and guards itself: a small page cache, `LowSpace` mode, a
//! versioned directory, sled's exclusive lock (one process), a flush interval plus flush on drop, and a
//! size watchdog that wipes the cache when its disk usage exceeds a bound or a multiple of its content.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

mod front;
use std::time::{SystemTime, UNIX_EPOCH};

/// Name of the directory (inside the configured one) holding this format of the cache.
pub const FORMAT_DIR: &str = "sled-v1";
const HEADER: usize = 16;
const CHECK_EVERY_WRITES: u64 = 4096;
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// How the cache is bounded and flushed.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Directory the cache lives in (the database is in `FORMAT_DIR` below it).
    pub dir: PathBuf,
    /// Keys plus values above this size are evicted, oldest write first.
    pub max_logical_bytes: u64,
    /// The whole cache is wiped if its files use more than this on disk.
    pub max_disk_bytes: u64,
    /// ... or more than this multiple of `max(logical size, min_disk_bytes)`.
    pub max_disk_ratio: f64,
    /// Disk usage below which the ratio is not checked (sled's fixed overhead).
    pub min_disk_bytes: u64,
    /// How often sled writes its log to disk; `None` flushes only on `flush()` and drop.
    pub flush_every_ms: Option<u64>,
    /// sled's in-memory page cache.
    pub page_cache_bytes: u64,
    /// The hottest entries kept in memory in front of sled (0 turns it off).
    pub memory_bytes: u64,
}

impl CacheConfig {
    /// Defaults for a Raspberry Pi–class device with an SD card.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_logical_bytes: 64 << 20,
            max_disk_bytes: 512 << 20,
            max_disk_ratio: 8.0,
            min_disk_bytes: 16 << 20,
            flush_every_ms: Some(5_000),
            page_cache_bytes: 8 << 20,
            memory_bytes: 4 << 20,
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheError {
    /// Another process has the cache open.
    Locked(String),
    /// The cache directory cannot be created or written.
    Unwritable(String),
    /// sled failed during an operation.
    Storage(String),
    /// A namespace or key is not acceptable.
    InvalidKey(String),
}

impl std::fmt::Display for CacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Locked(m) | Self::Unwritable(m) | Self::Storage(m) | Self::InvalidKey(m) => {
                f.write_str(m)
            }
        }
    }
}

impl std::error::Error for CacheError {}

/// How opening went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenOutcome {
    /// An existing cache was opened.
    Opened,
    /// No cache existed; an empty one was created.
    Created,
    /// The cache was unreadable or too large and was wiped; the reason says why.
    Rebuilt(String),
}

/// Sizes and counters of the cache.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheStats {
    /// Entries stored (expired ones included until touched).
    pub entries: u64,
    /// Bytes of keys and values.
    pub logical_bytes: u64,
    /// Bytes the cache's files use on disk.
    pub disk_bytes: u64,
    /// Entries evicted to keep within `max_logical_bytes`.
    pub evictions: u64,
    /// Times the cache was wiped and rebuilt since it was opened.
    pub rebuilds: u64,
}

struct Store {
    db: sled::Db,
    data: sled::Tree,
    order: sled::Tree,
}

/// The cache. Safe to share between threads.
pub struct Cache {
    config: CacheConfig,
    store: RwLock<Store>,
    front: Mutex<front::Front>,
    logical: AtomicU64,
    writes: AtomicU64,
    evictions: AtomicU64,
    rebuilds: AtomicU64,
    outcome: OpenOutcome,
}

fn storage(error: sled::Error) -> CacheError {
    CacheError::Storage(format!("cache storage error: {error}"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn data_key(namespace: &str, key: &[u8]) -> Result<Vec<u8>, CacheError> {
    if namespace.is_empty() || namespace.len() > 255 {
        return Err(CacheError::InvalidKey(format!(
            "cache namespace must be 1 to 255 bytes, got {}",
            namespace.len()
        )));
    }
    let mut out = Vec::with_capacity(1 + namespace.len() + key.len());
    out.push(namespace.len() as u8);
    out.extend_from_slice(namespace.as_bytes());
    out.extend_from_slice(key);
    Ok(out)
}

fn header(value: &[u8]) -> (u64, u64) {
    let expires = u64::from_be_bytes(value[..8].try_into().expect("8 bytes"));
    let seq = u64::from_be_bytes(value[8..16].try_into().expect("8 bytes"));
    (expires, seq)
}

fn entry_size(key: &[u8], value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

/// Bytes the files below `dir` occupy on disk.
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => disk_usage(&entry.path()),
            Ok(meta) => meta.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

fn is_lock_error(error: &sled::Error) -> bool {
    match error {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock")
        }
        _ => false,
    }
}

fn open_store(config: &CacheConfig, path: &Path) -> Result<Store, sled::Error> {
    let db = sled::Config::new()
        .path(path)
        .cache_capacity(config.page_cache_bytes)
        .mode(sled::Mode::LowSpace)
        .flush_every_ms(config.flush_every_ms)
        .open()?;
    let data = db.open_tree("data")?;
    let order = db.open_tree("order")?;
    Ok(Store { db, data, order })
}

/// Open the store; a lock held a moment longer by a just-dropped handle of this process (sled's flusher
/// thread lets go of it asynchronously) is waited for, up to `LOCK_PATIENCE`.
fn open_store_patiently(config: &CacheConfig, path: &Path) -> Result<Store, sled::Error> {
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match open_store(config, path) {
            Err(error) if is_lock_error(&error) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Open the store, wiping and recreating the directory when sled cannot read it (or panics on it).
fn open_or_rebuild(config: &CacheConfig) -> Result<(Store, OpenOutcome), CacheError> {
    let path = config.dir.join(FORMAT_DIR);
    fs::create_dir_all(&config.dir).map_err(|e| {
        CacheError::Unwritable(format!(
            "cannot create cache directory {:?}: {e}",
            config.dir
        ))
    })?;
    let existed = path.exists();
    let attempt = catch_unwind(AssertUnwindSafe(|| open_store_patiently(config, &path)));
    let reason = match attempt {
        Ok(Ok(store)) => {
            return Ok((
                store,
                if existed {
                    OpenOutcome::Opened
                } else {
                    OpenOutcome::Created
                },
            ));
        }
        Ok(Err(error)) if is_lock_error(&error) => {
            return Err(CacheError::Locked(format!(
                "the cache {path:?} is in use by another process (only one may open it)"
            )));
        }
        Ok(Err(error)) => format!("unreadable cache ({error})"),
        Err(_) => "unreadable cache (sled panicked while opening it)".to_string(),
    };
    wipe(&path)?;
    let store = open_store_patiently(config, &path).map_err(storage)?;
    Ok((store, OpenOutcome::Rebuilt(reason)))
}

fn wipe(path: &Path) -> Result<(), CacheError> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CacheError::Unwritable(format!(
            "cannot wipe cache directory {path:?}: {e}"
        ))),
    }
}

/// Rebuild the order index from the data and return the logical size.
fn reindex(store: &Store) -> Result<u64, CacheError> {
    store.order.clear().map_err(storage)?;
    let mut logical = 0u64;
    let mut stale = Vec::new();
    for item in store.data.iter() {
        let (key, value) = item.map_err(storage)?;
        if value.len() < HEADER {
            stale.push(key);
            continue;
        }
        let (_, seq) = header(&value);
        store
            .order
            .insert(seq.to_be_bytes(), key.as_ref())
            .map_err(storage)?;
        logical += entry_size(&key, &value);
    }
    for key in stale {
        store.data.remove(key).map_err(storage)?;
    }
    Ok(logical)
}

impl Cache {
    /// Open (or create, or rebuild) the cache described by `config`.
    pub fn open(config: CacheConfig) -> Result<Self, CacheError> {
        let (store, mut outcome) = open_or_rebuild(&config)?;
        let logical = match catch_unwind(AssertUnwindSafe(|| reindex(&store))) {
            Ok(Ok(size)) => size,
            _ => {
                drop(store);
                let path = config.dir.join(FORMAT_DIR);
                wipe(&path)?;
                outcome = OpenOutcome::Rebuilt("unreadable entries".into());
                let store = open_store_patiently(&config, &path).map_err(storage)?;
                return Self::assemble(config, store, 0, outcome);
            }
        };
        Self::assemble(config, store, logical, outcome)
    }

    fn assemble(
        config: CacheConfig,
        store: Store,
        logical: u64,
        outcome: OpenOutcome,
    ) -> Result<Self, CacheError> {
        let cache = Self {
            front: Mutex::new(front::Front::new(config.memory_bytes as usize)),
            config,
            store: RwLock::new(store),
            logical: AtomicU64::new(logical),
            writes: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            rebuilds: AtomicU64::new(u64::from(matches!(outcome, OpenOutcome::Rebuilt(_)))),
            outcome,
        };
        cache.evict_if_needed()?;
        if let Some(reason) = cache.watchdog_reason() {
            cache.rebuild(&reason)?;
        }
        Ok(cache)
    }

    /// How opening went.
    pub fn open_outcome(&self) -> &OpenOutcome {
        &self.outcome
    }

    fn front(&self) -> std::sync::MutexGuard<'_, front::Front> {
        self.front
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value stored under `namespace`/`key`, if present and not expired.
    pub fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<sled::IVec>, CacheError> {
        let k = data_key(namespace, key)?;
        // Lock order: the front, then the store; writers touch the front only after releasing the store.
        let value = {
            let mut front = self.front();
            match front.get(&k) {
                Some(value) => value,
                None => {
                    let store = self.read();
                    let Some(value) = store.data.get(&k).map_err(storage)? else {
                        return Ok(None);
                    };
                    let (expires, _) = header(&value);
                    if expires == 0 || expires > now_ms() {
                        front.insert(&k, value.clone());
                    }
                    value
                }
            }
        };
        let (expires, seq) = header(&value);
        if expires != 0 && expires <= now_ms() {
            self.front().remove(&k);
            let store = self.read();
            if store
                .data
                .compare_and_swap(&k, Some(&value), None::<&[u8]>)
                .map_err(storage)?
                .is_ok()
            {
                store.order.remove(seq.to_be_bytes()).map_err(storage)?;
                self.logical
                    .fetch_sub(entry_size(&k, &value), Ordering::Relaxed);
            }
            return Ok(None);
        }
        Ok(Some(value.subslice(HEADER, value.len() - HEADER)))
    }

    /// Store `value` under `namespace`/`key`, expiring after `ttl_ms` (never if `None`).
    pub fn put(
        &self,
        namespace: &str,
        key: &[u8],
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<(), CacheError> {
        let k = data_key(namespace, key)?;
        {
            let store = self.read();
            let seq = store.db.generate_id().map_err(storage)?;
            let expires = ttl_ms.map_or(0, |ttl| now_ms().saturating_add(ttl.max(1)));
            let mut stored = Vec::with_capacity(HEADER + value.len());
            stored.extend_from_slice(&expires.to_be_bytes());
            stored.extend_from_slice(&seq.to_be_bytes());
            stored.extend_from_slice(value);
            let size = entry_size(&k, &stored);
            if let Some(old) = store.data.insert(&k, stored).map_err(storage)? {
                self.forget(&store, &k, &old)?;
            }
            store
                .order
                .insert(seq.to_be_bytes(), k.as_slice())
                .map_err(storage)?;
            self.logical.fetch_add(size, Ordering::Relaxed);
        }
        self.front().remove(&k);
        self.evict_if_needed()?;
        if self.writes.fetch_add(1, Ordering::Relaxed) % CHECK_EVERY_WRITES
            == CHECK_EVERY_WRITES - 1
        {
            self.check()?;
        }
        Ok(())
    }

    /// Remove `namespace`/`key`; true if it was there.
    pub fn delete(&self, namespace: &str, key: &[u8]) -> Result<bool, CacheError> {
        let k = data_key(namespace, key)?;
        let removed = {
            let store = self.read();
            match store.data.remove(&k).map_err(storage)? {
                Some(old) => {
                    self.forget(&store, &k, &old)?;
                    true
                }
                None => false,
            }
        };
        self.front().remove(&k);
        Ok(removed)
    }

    /// Account for a value that was replaced or removed: its order entry and its size.
    fn forget(&self, store: &Store, key: &[u8], old: &[u8]) -> Result<(), CacheError> {
        if old.len() >= HEADER {
            store
                .order
                .remove(header(old).1.to_be_bytes())
                .map_err(storage)?;
        }
        self.logical
            .fetch_sub(entry_size(key, old), Ordering::Relaxed);
        Ok(())
    }

    /// Remove every entry of `namespace`; returns how many.
    pub fn clear_namespace(&self, namespace: &str) -> Result<u64, CacheError> {
        let prefix = data_key(namespace, b"")?;
        let keys: Vec<sled::IVec> = {
            let store = self.read();
            store
                .data
                .scan_prefix(&prefix)
                .keys()
                .collect::<Result<_, _>>()
                .map_err(storage)?
        };
        let mut removed = 0;
        for key in keys {
            removed += u64::from(self.delete(namespace, &key[prefix.len()..])?);
        }
        Ok(removed)
    }

    fn evict_if_needed(&self) -> Result<(), CacheError> {
        if self.logical.load(Ordering::Relaxed) <= self.config.max_logical_bytes {
            return Ok(());
        }
        let target = self.config.max_logical_bytes / 10 * 9;
        let store = self.read();
        let mut evicted = Vec::new();
        while self.logical.load(Ordering::Relaxed) > target {
            let Some((seq, key)) = store.order.pop_min().map_err(storage)? else {
                break;
            };
            if let Some(value) = store.data.get(&key).map_err(storage)? {
                if value.len() >= HEADER && header(&value).1.to_be_bytes() == seq.as_ref() {
                    store.data.remove(&key).map_err(storage)?;
                    self.logical
                        .fetch_sub(entry_size(&key, &value), Ordering::Relaxed);
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                    evicted.push(key);
                }
            }
        }
        drop(store);
        let mut front = self.front();
        for key in evicted {
            front.remove(&key);
        }
        Ok(())
    }

    fn watchdog_reason(&self) -> Option<String> {
        let disk = disk_usage(&self.config.dir.join(FORMAT_DIR));
        let logical = self.logical.load(Ordering::Relaxed);
        let allowed = self.config.max_disk_ratio * logical.max(self.config.min_disk_bytes) as f64;
        if disk > self.config.max_disk_bytes {
            Some(format!(
                "cache uses {disk} bytes on disk, above its bound of {}",
                self.config.max_disk_bytes
            ))
        } else if disk as f64 > allowed {
            Some(format!(
                "cache uses {disk} bytes on disk for {logical} bytes of content (more than {}x)",
                self.config.max_disk_ratio
            ))
        } else {
            None
        }
    }

    /// Run the size watchdog now; returns the reason if the cache had to be wiped.
    pub fn check(&self) -> Result<Option<String>, CacheError> {
        match self.watchdog_reason() {
            Some(reason) => {
                self.rebuild(&reason)?;
                Ok(Some(reason))
            }
            None => Ok(None),
        }
    }

    /// Remove every entry and recreate the cache's files empty, so that nothing deleted is left on disk
    /// (sled keeps removed values in its log segments until they are rewritten); returns how many there were.
    pub fn wipe(&self) -> Result<u64, CacheError> {
        let entries = self.read().data.len() as u64;
        self.rebuild("wiped on request")?;
        Ok(entries)
    }

    fn rebuild(&self, _reason: &str) -> Result<(), CacheError> {
        let mut store = self
            .store
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let path = self.config.dir.join(FORMAT_DIR);
        // sled releases its lock and files only when every handle is gone: swap in a temporary store first.
        let temporary = sled::Config::new()
            .temporary(true)
            .open()
            .map_err(storage)?;
        let placeholder = Store {
            data: temporary.open_tree("data").map_err(storage)?,
            order: temporary.open_tree("order").map_err(storage)?,
            db: temporary,
        };
        drop(std::mem::replace(&mut *store, placeholder));
        wipe(&path)?;
        *store = open_store_patiently(&self.config, &path).map_err(storage)?;
        self.logical.store(0, Ordering::Relaxed);
        drop(store);
        self.front().clear();
        self.rebuilds.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Write everything to disk now.
    pub fn flush(&self) -> Result<(), CacheError> {
        self.read().db.flush().map(|_| ()).map_err(storage)
    }

    /// Sizes and counters.
    pub fn stats(&self) -> CacheStats {
        let store = self.read();
        CacheStats {
            entries: store.data.len() as u64,
            logical_bytes: self.logical.load(Ordering::Relaxed),
            disk_bytes: disk_usage(&self.config.dir.join(FORMAT_DIR)),
            evictions: self.evictions.load(Ordering::Relaxed),
            rebuilds: self.rebuilds.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests;
