//! Files the daemon reads or runs as root: read only regular files of bounded size, and run
//! or listen only where no other user can swap what is there.
//!
//! A config, set or UCI file that is a FIFO would block the reader for ever, and one that is
//! `/dev/zero` would grow memory until the router runs out; both are refused before a byte is
//! read.

pub mod trust;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Limit for the config file (TOML or UCI) and OpenWrt's UCI files: a large config is a few
/// kilobytes, so this is generous while still small next to a router's 64 MB of RAM.
pub const CONFIG_LIMIT: u64 = 1 << 20;
/// Limit for a set file (`set.file`): one prefix a line, about 16 bytes each, so about a
/// million prefixes, several times the largest public block lists.
pub const SET_FILE_LIMIT: u64 = 16 << 20;

/// A file that could not be read; names the file.
#[derive(Debug, Error)]
#[error("{}: {failure}", path.display())]
pub struct ReadError {
    /// The file as given.
    pub path: PathBuf,
    /// What went wrong.
    pub failure: ReadFailure,
}

/// Why a file could not be read, without its name (for callers that name it themselves).
#[derive(Debug, Error)]
pub enum ReadFailure {
    /// open, fstat or read failed. Transparent: the chain printed with `{:#}` would
    /// otherwise repeat the system's message.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A directory, FIFO, device or socket.
    #[error("is a {0}, not a regular file")]
    NotRegular(FileKind),
    /// Longer than the limit (checked before reading, and again while reading).
    #[error("larger than the limit of {} bytes ({})", .0, mib(*.0))]
    TooLarge(u64),
    /// Not UTF-8 text.
    #[error("is not UTF-8 text")]
    NotText,
}

impl ReadFailure {
    /// The file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadFailure::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Replaces the file at `path` with `bytes` in one step: written beside it under a
/// temporary name, then renamed over it, so a reader sees the old file or the new one,
/// never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().ok_or(std::io::ErrorKind::InvalidInput)?;
    let mut temporary = name.to_os_string();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = path.with_file_name(temporary);
    let written =
        std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

fn mib(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes.div_ceil(1 << 10))
    }
}

/// The kind of a file that is not a regular file, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Regular,
    Directory,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
    Symlink,
    Other,
}

impl FileKind {
    /// The kind of `meta` (from `stat` or `lstat`).
    pub fn of(meta: &std::fs::Metadata) -> FileKind {
        let t = meta.file_type();
        if t.is_file() {
            FileKind::Regular
        } else if t.is_dir() {
            FileKind::Directory
        } else if t.is_fifo() {
            FileKind::Fifo
        } else if t.is_char_device() {
            FileKind::CharDevice
        } else if t.is_block_device() {
            FileKind::BlockDevice
        } else if t.is_socket() {
            FileKind::Socket
        } else if t.is_symlink() {
            FileKind::Symlink
        } else {
            FileKind::Other
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Regular => "regular file",
            FileKind::Directory => "directory",
            FileKind::Fifo => "FIFO",
            FileKind::CharDevice => "character device",
            FileKind::BlockDevice => "block device",
            FileKind::Socket => "socket",
            FileKind::Symlink => "symbolic link",
            FileKind::Other => "special file",
        })
    }
}

/// Reads the regular file at `path` as text, refusing anything else and anything larger
/// than `limit` bytes.
pub fn read_limited(path: &Path, limit: u64) -> Result<String, ReadError> {
    read_text(path, limit).map_err(|failure| ReadError {
        path: path.to_path_buf(),
        failure,
    })
}

fn read_text(path: &Path, limit: u64) -> Result<String, ReadFailure> {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, which is
    // exactly the hang this refuses. It changes nothing for a regular file.
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    // fstat of the opened file, not stat of the path: the path may be swapped in between.
    let meta = file.metadata()?;
    let kind = FileKind::of(&meta);
    if kind != FileKind::Regular {
        return Err(ReadFailure::NotRegular(kind));
    }
    if meta.len() > limit {
        return Err(ReadFailure::TooLarge(limit));
    }
    // The size may change while reading (a file being written, or /proc's size-0 files):
    // read at most one byte past the limit to notice.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadFailure::TooLarge(limit));
    }
    String::from_utf8(bytes).map_err(|_| ReadFailure::NotText)
}

#[cfg(test)]
pub(crate) mod scratch;
#[cfg(test)]
mod tests;
