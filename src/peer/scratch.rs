//! A folder of copies fetched from other nodes for one export, removed with everything in it
//! when dropped (on success, on error, on a dropped request alike).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Scratch folders of this process are numbered.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// A scratch folder, removed on drop.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// A new, empty folder inside `parent`.
    pub fn new(parent: &Path) -> std::io::Result<Scratch> {
        let dir = parent.join(format!(
            "fetched-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch { dir })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A file name inside it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
