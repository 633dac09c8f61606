//! The local files a run reads — profile files, token files, the IAM
//! Identity Center token cache, a CA bundle, `--task-definition-file`,
//! `--codedeploy-appspec` — and the ones it writes: the refreshed token
//! cache, and the files a CI runner gives it (`$GITHUB_OUTPUT`).
//!
//! Reads are capped in size and run on the blocking pool, never on the
//! runtime thread: a FIFO or a `<(command)` that never delivers must still
//! let a signal end the run. The write creates its file private and
//! exclusively before a secret goes into it.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

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

/// Appends `bytes` to `path` (created if missing), off the runtime thread:
/// the files a CI runner names (`$GITHUB_OUTPUT`) may be anything, a FIFO
/// nobody reads included.
pub async fn append(path: &Path, bytes: Vec<u8>) -> io::Result<()> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(&bytes))
    })
    .await
    .unwrap_or_else(|stopped| Err(io::Error::other(stopped)))
}

/// Replaces the file at `path` with `bytes`, keeping its permissions: the
/// bytes go to a new file beside it, which is then renamed over it, so a
/// reader never sees half a file. The new file is the owner's alone from
/// the moment it exists (see [`create_private`]) until it takes the old
/// one's permissions, just before the rename.
pub async fn replace_private(path: &Path, bytes: Vec<u8>) -> io::Result<()> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || replace_blocking(&path, &bytes))
        .await
        .unwrap_or_else(|stopped| Err(io::Error::other(stopped)))
}

fn replace_blocking(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let permissions = std::fs::metadata(path)?.permissions();
    let temporary = beside(path);
    // Nothing to clean up when this fails: what is there is not ours.
    let mut file = create_private(&temporary)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| file.set_permissions(permissions))
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// `<path>.<pid>.tmp`: beside `path`, so the rename stays on one file system.
fn beside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Creates `path` for writing with mode 0600 from the first moment — not
/// the umask's 0644 until a chmod — and only where nothing is (`O_EXCL`):
/// never an existing file, nor a symlink that would carry the write
/// elsewhere.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
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
        drop(OpenOptions::new().write(true).open(&fifo).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn new_private_files_are_0600_from_the_start_and_never_an_existing_path() {
        let dir = Dir::new("private");
        let path = dir.0.join("new");
        let file = create_private(&path).unwrap();
        // Before anything is written or changed: the mode it was made with.
        assert_eq!(mode(&path), 0o600);
        drop(file);
        let err = create_private(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);

        let elsewhere = dir.0.join("elsewhere");
        let planted = dir.0.join("planted");
        std::os::unix::fs::symlink(&elsewhere, &planted).unwrap();
        let err = create_private(&planted).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(!elsewhere.exists(), "the symlink was not followed");
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_mode_and_no_write_follows_a_planted_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = Dir::new("replace");
        let runtime = runtime();
        let cache = dir.0.join("cache.json");
        std::fs::write(&cache, "{\"old\": true}").unwrap();
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o640)).unwrap();
        runtime
            .block_on(replace_private(&cache, b"{\"new\": true}".to_vec()))
            .unwrap();
        assert_eq!(std::fs::read(&cache).unwrap(), b"{\"new\": true}");
        assert_eq!(mode(&cache), 0o640);
        assert_eq!(
            std::fs::read_dir(&dir.0).unwrap().count(),
            1,
            "no temporary file is left"
        );

        // Whatever sits where the new file would be made (here a link to
        // a file others may read) stops the write; the secret goes nowhere.
        let readable = dir.0.join("readable");
        std::os::unix::fs::symlink(&readable, beside(&cache)).unwrap();
        let err = runtime
            .block_on(replace_private(&cache, b"{\"secret\": true}".to_vec()))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(!readable.exists());
        assert_eq!(std::fs::read(&cache).unwrap(), b"{\"new\": true}");
    }
}
