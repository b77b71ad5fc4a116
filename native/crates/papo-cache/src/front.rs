//! A small in-memory front for the hottest entries, so repeated reads skip sled's tree walk.

use std::collections::{HashMap, VecDeque};

/// Entries (as stored in sled: header + payload) kept in memory, oldest inserted evicted first.
pub(crate) struct Front {
    entries: HashMap<Vec<u8>, sled::IVec>,
    arrival: VecDeque<Vec<u8>>,
    bytes: usize,
    max_bytes: usize,
}

impl Front {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            arrival: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<sled::IVec> {
        self.entries.get(key).cloned()
    }

    pub(crate) fn insert(&mut self, key: &[u8], value: sled::IVec) {
        let size = key.len() + value.len();
        if self.max_bytes == 0 || size > self.max_bytes / 4 {
            return;
        }
        if let Some(old) = self.entries.insert(key.to_vec(), value) {
            self.bytes -= key.len() + old.len();
        } else {
            self.arrival.push_back(key.to_vec());
        }
        self.bytes += size;
        while self.bytes > self.max_bytes {
            let Some(oldest) = self.arrival.pop_front() else {
                break;
            };
            if let Some(old) = self.entries.remove(&oldest) {
                self.bytes -= oldest.len() + old.len();
            }
        }
    }

    pub(crate) fn remove(&mut self, key: &[u8]) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= key.len() + old.len();
        }
        // The key's place in `arrival` is dropped lazily when it reaches the front.
        if self.arrival.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.arrival.retain(|k| entries.contains_key(k));
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.arrival.clear();
        self.bytes = 0;
    }
}
