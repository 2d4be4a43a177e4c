//! One daemon per network namespace. Two daemons in one namespace (say, with different
//! control sockets) each keep replacing the other's routes, thousands of times a second.
//!
//! The lock is a listening Unix socket with a fixed name in the abstract namespace. Linux
//! keeps one abstract namespace per network namespace (the test below checks it), so the
//! name is unique per network namespace by itself, with no file to create or to go stale:
//! the kernel frees the name when the process ends, however it ends (also SIGKILL).
//! Because it listens, a second daemon can connect and learn the first one's pid
//! (SO_PEERCRED) for its message.

use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};
use thiserror::Error;

/// The lock's name in the abstract socket namespace (`@uplink-daemon` in `ss -xl`).
pub const LOCK_NAME: &str = "uplink-daemon";

/// Held for as long as the daemon runs; dropping it lets another daemon start.
#[derive(Debug)]
pub struct InstanceLock {
    held: Held,
}

#[derive(Debug)]
enum Held {
    /// Outside a runtime (tests on a namespace's thread): the socket only.
    Socket(#[allow(dead_code)] std::os::unix::net::UnixListener),
    /// In the daemon: a task owns the socket and closes the connections other daemons open
    /// to learn our pid, so they never fill its backlog.
    Served(tokio::task::JoinHandle<()>),
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        if let Held::Served(task) = &self.held {
            task.abort();
        }
    }
}

/// Why the daemon may not start.
#[derive(Debug, Error)]
pub enum InstanceError {
    /// Another daemon holds the lock.
    #[error(
        "another uplink daemon is already running in this network namespace ({0}); stop it \
         first (two daemons would fight over the same routes)"
    )]
    Running(Holder),
    /// The socket could not be created or bound for another reason.
    #[error("single-instance lock @{name}: {error}")]
    Io { name: String, error: std::io::Error },
}

/// Who holds the lock, as far as the kernel tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// Its pid (in our pid namespace); `None` when it could not be asked.
    pub pid: Option<i32>,
    /// Its user.
    pub uid: Option<u32>,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid {pid}")?,
            None => f.write_str("pid unknown")?,
        }
        match self.uid {
            // Not a daemon started as root: someone else took the name.
            Some(uid) if uid != 0 && uid != crate::files::trust::effective_uid() => {
                write!(f, ", run by uid {uid}, not by root")
            }
            _ => Ok(()),
        }
    }
}

/// Takes the lock of this network namespace, or says who holds it.
pub fn acquire() -> Result<InstanceLock, InstanceError> {
    let io = |error| InstanceError::Io {
        name: LOCK_NAME.to_string(),
        error,
    };
    // A leading NUL makes the address abstract: no file, gone with the process.
    let addr = SockAddr::unix(format!("\0{LOCK_NAME}")).map_err(io)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(io)?;
    if let Err(e) = socket.bind(&addr) {
        return Err(match e.kind() {
            std::io::ErrorKind::AddrInUse => InstanceError::Running(holder(&addr)),
            _ => io(e),
        });
    }
    socket.listen(8).map_err(io)?;
    socket.set_nonblocking(true).map_err(io)?;
    let listener = std::os::unix::net::UnixListener::from(OwnedFd::from(socket));
    let held = match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let _entered = runtime.enter();
            let listener = tokio::net::UnixListener::from_std(listener).map_err(io)?;
            Held::Served(runtime.spawn(close_every_connection(listener)))
        }
        Err(_) => Held::Socket(listener),
    };
    Ok(InstanceLock { held })
}

async fn close_every_connection(listener: tokio::net::UnixListener) {
    loop {
        if listener.accept().await.is_err() {
            // EMFILE and the like: try again later rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Connects to the holder (never waiting: a full backlog just means "unknown") and asks the
/// kernel for its credentials, recorded when it started listening.
fn holder(addr: &SockAddr) -> Holder {
    let unknown = Holder {
        pid: None,
        uid: None,
    };
    let Ok(probe) = Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None) else {
        return unknown;
    };
    if probe.connect(addr).is_err() {
        return unknown;
    }
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt(SO_PEERCRED) on an open socket, writing at most `len` bytes into
    // `cred`, which is that large.
    let rc = unsafe {
        libc::getsockopt(
            probe.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return unknown;
    }
    Holder {
        // 0: the holder is in a pid namespace we cannot see into.
        pid: (cred.pid != 0).then_some(cred.pid),
        uid: Some(cred.uid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netns::{require_root, unique_prefix, Netns};

    /// The claim the design rests on: the abstract namespace is per network namespace.
    #[test]
    fn one_lock_per_network_namespace() {
        if !require_root("one_lock_per_network_namespace") {
            return;
        }
        let a = Netns::create(&unique_prefix("insta")).unwrap();
        let b = Netns::create(&unique_prefix("instb")).unwrap();
        let first = a.run_in(acquire).unwrap().unwrap();
        let second = a.run_in(acquire).unwrap().unwrap_err();
        let pid = std::process::id() as i32;
        assert!(
            matches!(
                second,
                InstanceError::Running(Holder {
                    pid: Some(p),
                    uid: Some(0)
                }) if p == pid
            ),
            "{second}"
        );
        assert_eq!(
            second.to_string(),
            format!(
                "another uplink daemon is already running in this network namespace (pid {pid}); \
                 stop it first (two daemons would fight over the same routes)"
            )
        );
        let elsewhere = b.run_in(acquire).unwrap().unwrap();
        // Released with the socket: the namespace is free again.
        drop(first);
        let again = a.run_in(acquire).unwrap().unwrap();
        drop((again, elsewhere));
    }

    #[test]
    fn a_holder_that_is_not_root_is_named_as_such() {
        let holder = Holder {
            pid: Some(42),
            uid: Some(65534),
        };
        if crate::files::trust::effective_uid() != 65534 {
            assert_eq!(holder.to_string(), "pid 42, run by uid 65534, not by root");
        }
        let unknown = Holder {
            pid: None,
            uid: None,
        };
        assert_eq!(unknown.to_string(), "pid unknown");
    }
}
