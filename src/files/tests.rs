//! Bounded reads of real files, FIFOs and devices, and the ownership rules on real
//! directories (chown needs root; those tests are skipped without it, failed in CI).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use super::scratch::Scratch;
use super::trust::{check, check_parents, TrustError};
use super::*;

const NOBODY: u32 = 65534;

fn chown(path: &std::path::Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), None).unwrap();
}

#[test]
fn a_regular_file_within_the_limit_is_read() {
    let s = Scratch::new("rdok");
    let path = s.file("a.toml", "key = 1\n", 0o644);
    assert_eq!(read_limited(&path, 8).unwrap(), "key = 1\n");
}

#[test]
fn a_file_over_the_limit_is_refused_naming_file_and_limit() {
    let s = Scratch::new("rdbig");
    let path = s.file("big", &"x".repeat(2048), 0o644);
    let err = read_limited(&path, 1024).unwrap_err();
    assert!(matches!(err.failure, ReadFailure::TooLarge(1024)), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: larger than the limit of 1024 bytes (1 KiB)",
            path.display()
        )
    );
}

#[test]
fn a_character_device_is_refused_before_reading() {
    // /dev/zero never ends: reading it at all would grow memory up to the limit.
    let err = read_limited(Path::new("/dev/zero"), SET_FILE_LIMIT).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/dev/zero: is a character device, not a regular file"
    );
}

#[test]
fn a_fifo_is_refused_at_once_instead_of_blocking() {
    let s = Scratch::new("rdfifo");
    let path = s.0.join("fifo");
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let start = Instant::now();
    // Without a writer, a plain open would wait for ever; run it on a thread so a
    // regression fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    let p = path.clone();
    std::thread::spawn(move || tx.send(read_limited(&p, CONFIG_LIMIT).map_err(|e| e.failure)));
    let result = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("reading a FIFO blocked");
    assert!(
        matches!(result, Err(ReadFailure::NotRegular(FileKind::Fifo))),
        "{result:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_directory_is_refused() {
    let s = Scratch::new("rddir");
    let err = read_limited(&s.0, CONFIG_LIMIT).unwrap_err();
    assert!(matches!(
        err.failure,
        ReadFailure::NotRegular(FileKind::Directory)
    ));
}

#[test]
fn limits_are_shown_in_mib_when_whole() {
    assert_eq!(mib(CONFIG_LIMIT), "1 MiB");
    assert_eq!(mib(SET_FILE_LIMIT), "16 MiB");
}

#[test]
fn root_owned_files_in_root_owned_directories_are_trusted() {
    let s = Scratch::new("trok");
    let dir = s.dir("hooks", 0o755);
    let hook = dir.join("10-log");
    fs::write(&hook, "#!/bin/sh\n").unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    // The scratch directory sits in the sticky, world-writable temporary directory: allowed
    // above the checked path.
    check(&dir).unwrap();
    check(&hook).unwrap();
    check_parents(&dir.join("not-yet")).unwrap();
}

#[test]
fn writable_by_group_or_others_is_refused_for_the_file_and_every_directory_above() {
    let s = Scratch::new("trmode");
    let hook = s.file("hook", "#!/bin/sh\n", 0o757);
    let err = check(&hook).unwrap_err();
    assert!(
        matches!(err, TrustError::Writable { mode: 0o757, .. }),
        "{err}"
    );
    assert!(err
        .to_string()
        .ends_with("has mode 0757: writable by group or others"));
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o775)).unwrap();
    assert!(check(&hook).is_err(), "group-writable");
    // A good file in a world-writable directory, or below one.
    let open = s.dir("open", 0o777);
    let inner = open.join("inner");
    fs::create_dir(&inner).unwrap();
    let hook = inner.join("hook");
    fs::write(&hook, "").unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    let err = check(&hook).unwrap_err();
    assert!(
        matches!(&err, TrustError::Writable { path, .. } if *path == open),
        "{err}"
    );
    assert!(check_parents(&open.join("uplink.sock")).is_err());
    // The same directory with the sticky bit (like /tmp) is fine above the path, never as
    // the checked path itself.
    fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
    check(&hook).unwrap();
    check_parents(&open.join("uplink.sock")).unwrap();
    assert!(check(&open).is_err());
}

#[test]
fn owned_by_another_user_is_refused() {
    if !crate::netns::require_root("owned_by_another_user_is_refused") {
        return;
    }
    let s = Scratch::new("trown");
    let hook = s.file("hook", "#!/bin/sh\n", 0o755);
    chown(&hook, NOBODY);
    let err = check(&hook).unwrap_err();
    assert!(
        matches!(err, TrustError::Owner { uid: NOBODY, .. }),
        "{err}"
    );
    assert!(err
        .to_string()
        .ends_with("is owned by uid 65534, not by root"));
    let dir = s.dir("theirs", 0o755);
    chown(&dir, NOBODY);
    assert!(check(&dir).is_err());
    assert!(check_parents(&dir.join("uplink.sock")).is_err());
}

#[test]
fn a_symlink_is_judged_by_where_it_points_and_where_it_sits() {
    let s = Scratch::new("trlink");
    let good = s.dir("good", 0o755);
    let bad = s.dir("bad", 0o777);
    // A safe link to a directory another user can fill.
    let to_bad = s.0.join("to-bad");
    std::os::unix::fs::symlink(&bad, &to_bad).unwrap();
    assert!(check(&to_bad).is_err());
    // A link to a safe place, but sitting where anyone could repoint it.
    let link_in_bad = bad.join("to-good");
    std::os::unix::fs::symlink(&good, &link_in_bad).unwrap();
    check(&good).unwrap();
    let err = check(&link_in_bad).unwrap_err();
    assert!(
        matches!(&err, TrustError::Writable { path, .. } if *path == bad),
        "{err}"
    );
}

#[test]
fn a_missing_path_names_itself() {
    let err = check(Path::new("/nonexistent/uplink/hooks.d")).unwrap_err();
    assert!(matches!(err, TrustError::Stat { .. }));
    assert!(err.to_string().starts_with("/nonexistent/uplink/hooks.d: "));
}
