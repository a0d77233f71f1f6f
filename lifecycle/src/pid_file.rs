//! `LIFECYCLE_PID_FILE`: the process id, written once the application is
//! ready, so that `kill -USR2 $(cat path)` reaches the running copy, as with
//! nginx. An upgrade's new copy overwrites it when it takes over; a process
//! that exits removes it only if it still names that process.

use std::path::{Path, PathBuf};

/// The pid file this process wrote.
pub(crate) struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes this process's id to `path` (`LIFECYCLE_PID_FILE` or
    /// `Builder::pid_file`; its directory was checked before start-up).
    /// A failure is logged, not fatal: the service itself is fine.
    pub(crate) fn write(path: &Path) -> Option<PidFile> {
        let path = path.to_path_buf();
        match write(&path, std::process::id()) {
            Ok(()) => {
                tracing::debug!(path = %path.display(), "wrote the pid file");
                Some(PidFile { path })
            }
            Err(error) => {
                tracing::error!(%error, path = %path.display(), "cannot write the pid file");
                None
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path)
            .is_ok_and(|text| text.trim() == std::process::id().to_string());
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes `pid` to `path` atomically: a reader sees the old pid or the new
/// one, never an empty file.
fn write(path: &Path, pid: u32) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{pid}.tmp"));
    std::fs::write(&temporary, format!("{pid}\n"))?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn written_whole_and_replaced() {
        let dir = std::env::temp_dir().join(format!("lc-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("app.pid");
        super::write(&path, 41).unwrap();
        super::write(&path, 42).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "42\n");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
