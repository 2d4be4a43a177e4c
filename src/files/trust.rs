//! Whether a path may be trusted with root's authority, in the manner of sshd's StrictModes:
//! the file and every directory above it must be owned by root (or by the user the daemon
//! runs as) and writable by no one else. Otherwise another user could put their own program
//! where a hook is run, or their own socket where `uplink status` connects.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Group- or other-writable.
const WRITABLE_BY_OTHERS: u32 = 0o022;

/// Why a path is not trusted; names the path that failed and the fact.
#[derive(Debug, Error)]
pub enum TrustError {
    /// The path (or a directory above it) cannot be examined.
    #[error("{}: {error}", path.display())]
    Stat {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Owned by another user, who could change it.
    #[error("{} is owned by uid {uid}, not by root{}", path.display(), also_us(*own))]
    Owner { path: PathBuf, uid: u32, own: u32 },
    /// Writable by its group or by everyone.
    #[error("{} has mode {mode:04o}: writable by group or others", path.display())]
    Writable { path: PathBuf, mode: u32 },
}

fn also_us(own: u32) -> String {
    if own == 0 {
        String::new()
    } else {
        format!(" or uid {own}")
    }
}

/// Checks `path` (a hook, a hooks directory) and every directory above it, both as written
/// and after resolving symbolic links: `path` itself must not be writable by group or others;
/// a directory above it may be only if it has the sticky bit (like /tmp, where others cannot
/// rename or remove what root owns). Returns the resolved path that was checked.
pub fn check(path: &Path) -> Result<PathBuf, TrustError> {
    let real = resolve(path)?;
    check_one(&real, false)?;
    // A symlinked hook may live elsewhere: the directories above its target count too.
    if let Some(dir) = real.parent() {
        check_dirs(dir)?;
    }
    check_parents(path)?;
    Ok(real)
}

/// Checks the directories above `path` (which need not exist yet), as written and resolved:
/// each must be owned by root or us and writable by no one else unless sticky. For a file we
/// create ourselves, such as the control socket.
pub fn check_parents(path: &Path) -> Result<(), TrustError> {
    // `/` has nothing above it; a bare name lives in the working directory.
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    // As written, each directory holds the next name (a symlink or not), so only a trusted
    // user could repoint it; resolved, the directories actually used are checked too.
    check_dirs(&resolve(dir)?)?;
    for above in dir.ancestors().filter(|d| !d.as_os_str().is_empty()) {
        check_one(above, true)?;
    }
    Ok(())
}

/// `dir` and every directory above it, `dir` already resolved.
fn check_dirs(dir: &Path) -> Result<(), TrustError> {
    dir.ancestors().try_for_each(|d| check_one(d, true))
}

fn resolve(path: &Path) -> Result<PathBuf, TrustError> {
    std::fs::canonicalize(path).map_err(|error| TrustError::Stat {
        path: path.to_path_buf(),
        error,
    })
}

/// One path, symlinks followed: owned by root or us; not writable by others unless it is a
/// directory above the checked path with the sticky bit.
fn check_one(path: &Path, above: bool) -> Result<(), TrustError> {
    let meta = std::fs::metadata(path).map_err(|error| TrustError::Stat {
        path: path.to_path_buf(),
        error,
    })?;
    let own = effective_uid();
    if meta.uid() != 0 && meta.uid() != own {
        return Err(TrustError::Owner {
            path: path.to_path_buf(),
            uid: meta.uid(),
            own,
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    let sticky_dir = above && meta.is_dir() && mode & libc::S_ISVTX != 0;
    if mode & WRITABLE_BY_OTHERS != 0 && !sticky_dir {
        return Err(TrustError::Writable {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// The user the daemon runs as.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
