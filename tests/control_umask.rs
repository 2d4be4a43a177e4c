//! The control socket under umask 000, where binding used to leave a window (bind, then
//! chmod) in which any local user could connect and drain a line. A test binary of its own:
//! the umask is per process, and no other test may run under this one. No network.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use uplink::daemon::control::bind;

const NOBODY: u32 = 65534;

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn under_umask_000_no_other_user_ever_reaches_the_socket() {
    if !uplink::netns::require_root("under_umask_000_no_other_user_ever_reaches_the_socket") {
        return;
    }
    // SAFETY: umask(2) cannot fail; this binary runs this one test only.
    unsafe { libc::umask(0) };
    let s = Scratch(std::env::temp_dir().join(uplink::netns::unique_prefix("ctlumask")));
    fs::create_dir(&s.0).unwrap();
    fs::set_permissions(&s.0, fs::Permissions::from_mode(0o755)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // A directory the daemon creates is 0700 whatever the umask.
    let created = s.0.join("run").join("uplink.sock");
    drop(rt.block_on(bind(&created)).unwrap());
    assert_eq!(mode(created.parent().unwrap()), 0o700);
    assert_eq!(mode(&created), 0o600);

    // In an existing directory others may enter (0755), only the socket's own mode keeps
    // them out: another user connects as fast as it can while the socket is made again
    // and again.
    let path = s.0.join("uplink.sock");
    let stop = Arc::new(AtomicBool::new(false));
    let connected = Arc::new(AtomicUsize::new(0));
    let attacker = {
        let (path, stop, connected) = (path.clone(), stop.clone(), connected.clone());
        std::thread::spawn(move || {
            // SAFETY: changes this thread's effective uid only (the raw syscall, not glibc's
            // process-wide wrapper); the real and saved uids stay root.
            let rc = unsafe { libc::syscall(libc::SYS_setresuid, u32::MAX, NOBODY, u32::MAX) };
            assert_eq!(rc, 0);
            while !stop.load(Ordering::Relaxed) {
                if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                    connected.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    for _ in 0..300 {
        let listener = rt.block_on(bind(&path)).unwrap();
        assert_eq!(mode(&path), 0o600);
        drop(listener);
        fs::remove_file(&path).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    attacker.join().unwrap();
    assert_eq!(connected.load(Ordering::Relaxed), 0);
}
