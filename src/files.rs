//! The local files a run reads — profile files, token files, the IAM
//! Identity Center token cache, a CA bundle, `--task-definition-file`,
//! `--codedeploy-appspec`.
//!
//! Reads are capped in size and run on the blocking pool, never on the
//! runtime thread: a FIFO or a `<(command)` that never delivers must still
//! let a signal end the run.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The most ecs-deploy reads of a JSON, YAML, INI or token file: far more
/// than any real one holds (ECS caps a task definition at 64 KiB).
pub const MAX_TEXT_BYTES: u64 = 1 << 20;

/// Why a file could not be read. It names neither the file nor its
/// content: the caller says which file, and the content may be a secret.
#[derive(Debug)]
pub enum ReadError {
    /// It holds more than the cap, in bytes, of its kind of file.
    TooLarge(u64),
    /// It is not UTF-8 text.
    NotText,
    /// The system refused or failed the read.
    Io(io::Error),
}

impl ReadError {
    /// Whether the file does not exist (some files are optional).
    pub fn is_missing(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::TooLarge(cap) => write!(
                f,
                "larger than {} MiB, the most ecs-deploy reads of such a file",
                cap >> 20
            ),
            ReadError::NotText => f.write_str("not UTF-8 text"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

/// The text of `path`, at most [`MAX_TEXT_BYTES`] of it.
pub async fn read_text(path: &Path) -> Result<String, ReadError> {
    let bytes = read(path, MAX_TEXT_BYTES).await?;
    String::from_utf8(bytes).map_err(|_| ReadError::NotText)
}

/// The bytes of `path`, at most `cap` of them (a whole number of MiB).
pub async fn read(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || read_blocking(&path, cap))
        .await
        .unwrap_or_else(|stopped| Err(ReadError::Io(io::Error::other(stopped))))
}

/// Reads one byte past `cap` to tell a file at the cap from a larger one:
/// the size the file system reports says nothing about pipes, FIFOs or
/// `/proc` files.
fn read_blocking(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge(cap));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    /// A throwaway directory, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(label: &str) -> Dir {
            let path = std::env::temp_dir()
                .join(format!("ecs-deploy-files-{label}-{}", std::process::id()));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn reads_stop_one_byte_past_the_cap() {
        let dir = Dir::new("cap");
        let runtime = runtime();
        let at_cap = dir.0.join("at-cap");
        std::fs::write(&at_cap, vec![b'x'; 1 << 20]).unwrap();
        assert_eq!(runtime.block_on(read_text(&at_cap)).unwrap().len(), 1 << 20);
        let over = dir.0.join("over");
        std::fs::write(&over, vec![b'x'; (1 << 20) + 1]).unwrap();
        let err = runtime.block_on(read_text(&over)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "larger than 1 MiB, the most ecs-deploy reads of such a file"
        );
        // An endless file is cut off too: the cap is on what is read.
        let err = runtime
            .block_on(read(Path::new("/dev/zero"), 1 << 20))
            .unwrap_err();
        assert!(matches!(err, ReadError::TooLarge(_)), "{err}");

        let missing = runtime
            .block_on(read_text(&dir.0.join("missing")))
            .unwrap_err();
        assert!(missing.is_missing(), "{missing}");
        let binary = dir.0.join("binary");
        std::fs::write(&binary, [0xff, 0xfe]).unwrap();
        let err = runtime.block_on(read_text(&binary)).unwrap_err();
        assert!(!err.is_missing());
        assert_eq!(err.to_string(), "not UTF-8 text");
    }

    #[cfg(unix)]
    #[test]
    fn a_read_that_never_ends_leaves_the_runtime_thread_free() {
        let dir = Dir::new("fifo");
        let fifo = dir.0.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let runtime = runtime();
        let waited = runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(200), read_text(&fifo)).await
        });
        assert!(waited.is_err(), "the timer fired while the read waited");
        // Let the blocked read see its end, so the runtime can be dropped.
        drop(std::fs::OpenOptions::new().write(true).open(&fifo).unwrap());
    }
}
