//! The directory a running server answers from. An import (another process) replaces the
//! snapshot file atomically; `refresh` notices the new file and swaps the loaded directory in
//! one step, so a search sees the old directory or the new one, never a mix, and searches keep
//! running on the old one while the new one is indexed.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::{Directory, SnapshotError};

pub struct LiveDirectory {
    path: PathBuf,
    current: RwLock<Option<Arc<Directory>>>,
    /// Modification time and size of the file loaded.
    loaded: RwLock<Option<(SystemTime, u64)>>,
}

impl LiveDirectory {
    /// Loads the snapshot at `path` if there is one.
    pub fn open(path: PathBuf) -> Result<LiveDirectory, SnapshotError> {
        let live = LiveDirectory::empty(path);
        live.refresh()?;
        Ok(live)
    }

    /// Nothing loaded yet: the first [`LiveDirectory::refresh`] loads `path`.
    pub fn empty(path: PathBuf) -> LiveDirectory {
        LiveDirectory {
            path,
            current: RwLock::new(None),
            loaded: RwLock::new(None),
        }
    }

    /// An already loaded directory (tests, demo).
    pub fn from_directory(directory: Directory) -> LiveDirectory {
        LiveDirectory {
            path: PathBuf::new(),
            current: RwLock::new(Some(Arc::new(directory))),
            loaded: RwLock::new(None),
        }
    }

    /// The directory in force, if one was ever loaded.
    pub fn get(&self) -> Option<Arc<Directory>> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reloads when the file changed since the last load. Returns whether it did. A damaged
    /// file is an error and the directory in force stays.
    pub fn refresh(&self) -> Result<bool, SnapshotError> {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return Ok(false);
        };
        let stamp = (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len());
        if *self.loaded.read().unwrap_or_else(|e| e.into_inner()) == Some(stamp) {
            return Ok(false);
        }
        let directory = Directory::open(&self.path)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(directory));
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Some(stamp);
        Ok(true)
    }
}
