//! Temporary directories.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory path under the system's temporary directory, unique to this process and
/// call, removed (with its contents) on drop. [`TempDir::new`] does not create it (the
/// code under test does); [`TempDir::created`] does.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// `$TMPDIR/ferrumx-test-{tag}-{pid}-{n}`, not created (anything there is removed).
    pub fn new(tag: &str) -> TempDir {
        TempDir::under(&std::env::temp_dir(), "ferrumx-test", tag)
    }

    /// Like [`TempDir::new`], and created.
    pub fn created(tag: &str) -> TempDir {
        let dir = TempDir::new(tag);
        std::fs::create_dir_all(dir.path()).expect("create the temporary directory");
        dir
    }

    /// A created directory with a short path (`/tmp/fx-{tag}-{pid}-{n}` when the system's
    /// temporary directory has a long one): for Unix sockets, whose paths are short.
    pub fn short(tag: &str) -> TempDir {
        let mut base = std::env::temp_dir();
        if base.as_os_str().len() > 60 {
            base = PathBuf::from("/tmp");
        }
        let dir = TempDir::under(&base, "fx", tag);
        std::fs::create_dir_all(dir.path()).expect("create the temporary directory");
        dir
    }

    fn under(base: &Path, prefix: &str, tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = base.join(format!(
            "{prefix}-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `name` in the directory (created if needed); the file's path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        std::fs::create_dir_all(&self.0).expect("create the temporary directory");
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write a temporary file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
