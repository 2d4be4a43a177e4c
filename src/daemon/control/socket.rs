//! Creating the control socket so that no other user can reach it, replace it or make us
//! remove something that is not ours.

use std::ffi::{CString, OsString};
use std::io::ErrorKind;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

use super::{io_error, ControlError};
use crate::files::{trust, FileKind};

/// Binds the socket at `path`, mode 0600, in a directory only root (or we) can change.
///
/// The directory is created 0700 if missing; an existing one (and every directory above it)
/// must be owned by root or us and writable by no one else, except a sticky directory such
/// as /tmp, where others cannot remove or rename what we own. A stale socket from a crashed
/// run is replaced; a live daemon's socket, or anything that is not a socket, never is.
pub async fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.exists() {
        // Only the new directories get 0700; the umask can only take bits away.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_error(path))?;
    }
    trust::check_parents(path).map_err(|reason| ControlError::Untrusted {
        path: path.to_path_buf(),
        reason,
    })?;
    remove_stale(path).await?;
    bind_unreachable_then_link(dir, path)
}

/// Removes a socket no one listens on; refuses a live one and anything else.
async fn remove_stale(path: &Path) -> Result<(), ControlError> {
    // lstat: a symlink is judged itself, never followed to what it names.
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(path)(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(ControlError::NotSocket {
            path: path.to_path_buf(),
            kind: FileKind::of(&meta),
        });
    }
    if UnixStream::connect(path).await.is_ok() {
        return Err(ControlError::InUse {
            path: path.to_path_buf(),
        });
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(io_error(path)(e)),
        _ => Ok(()),
    }
}

/// Binds in a fresh private directory (0700, so no one else can reach the socket while its
/// mode is still the umask's), sets 0600, then hard-links it to `path`. Unlike chmod after
/// bind at `path`, no client can connect in between; unlike changing the umask, other
/// threads' files are not affected; and link(2), unlike rename(2), fails instead of
/// replacing whatever appeared at `path` since we looked.
fn bind_unreachable_then_link(dir: &Path, path: &Path) -> Result<UnixListener, ControlError> {
    let private = PrivateDir::create(dir).map_err(io_error(path))?;
    let inner = private.0.join("s");
    let listener = std::os::unix::net::UnixListener::bind(&inner).map_err(io_error(path))?;
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o600))
        .map_err(io_error(path))?;
    std::fs::hard_link(&inner, path).map_err(|e| match e.kind() {
        ErrorKind::AlreadyExists => ControlError::InUse {
            path: path.to_path_buf(),
        },
        _ => io_error(path)(e),
    })?;
    drop(private);
    listener.set_nonblocking(true).map_err(io_error(path))?;
    UnixListener::from_std(listener).map_err(io_error(path))
}

/// A directory made by mkdtemp(3) (mode 0700, a name no one else can have taken), removed
/// with its contents on drop.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create(inside: &Path) -> std::io::Result<Self> {
        let template = inside.join(".uplink-bind-XXXXXX");
        let template = CString::new(template.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))?;
        let mut bytes = template.into_bytes_with_nul();
        // SAFETY: a NUL-terminated, writable buffer ending in XXXXXX, as mkdtemp requires;
        // it only rewrites those six bytes.
        let made = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
        if made.is_null() {
            return Err(std::io::Error::last_os_error());
        }
        bytes.pop();
        Ok(PrivateDir(PathBuf::from(OsString::from_vec(bytes))))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
