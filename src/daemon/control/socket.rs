//! Creating the control socket so that no other user can reach it, replace it or make us
//! remove something that is not ours.

use std::io::ErrorKind;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};
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
    bind_0600(path)
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

/// Creates the socket file already 0600. Linux gives the file made by bind(2) the mode of
/// the socket's own inode (less the umask), and fchmod(2) on the unbound socket sets that
/// mode: so no client can connect while the mode is still the umask's (as with chmod after
/// bind, where an unprivileged process connected in 9 of 15 starts under umask 000). Unlike
/// changing the umask, other threads' files are not affected; unlike binding in a private
/// directory and linking into place, `ss` and `lsof` show the real path. bind(2) never
/// replaces what appeared at `path` since we looked: it fails instead.
fn bind_0600(path: &Path) -> Result<UnixListener, ControlError> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(io_error(path))?;
    // SAFETY: fchmod on a descriptor we own.
    if unsafe { libc::fchmod(socket.as_raw_fd(), 0o600) } != 0 {
        return Err(io_error(path)(std::io::Error::last_os_error()));
    }
    let addr = SockAddr::unix(path).map_err(io_error(path))?;
    socket.bind(&addr).map_err(|e| match e.kind() {
        ErrorKind::AddrInUse => ControlError::InUse {
            path: path.to_path_buf(),
        },
        _ => io_error(path)(e),
    })?;
    socket.listen(128).map_err(io_error(path))?;
    socket.set_nonblocking(true).map_err(io_error(path))?;
    let listener = std::os::unix::net::UnixListener::from(OwnedFd::from(socket));
    UnixListener::from_std(listener).map_err(io_error(path))
}
