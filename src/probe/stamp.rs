//! When a reply really arrived: the kernel stamps each packet on receipt (`SO_TIMESTAMPNS`,
//! socket(7)), so a reply read late, after the event loop or the CPU was busy, still gets
//! its true round-trip time and is not mistaken for a lost probe.

use std::io;
use std::mem::{size_of, size_of_val};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A stamp older than this is not believed (the wall clock was stepped between receipt
/// and reading): the time of reading is used instead.
const MAX_AGE: Duration = Duration::from_secs(60);

/// Asks the kernel to stamp every packet received on `socket`. Failure is not fatal: the
/// time of reading is the fallback.
pub(crate) fn enable(socket: &impl AsRawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt with a pointer to a live c_int and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            size_of_val(&on) as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads one datagram into `buf` without blocking: its length and when it arrived.
pub(crate) fn recv(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<(usize, Instant)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64 words keep the control buffer aligned for cmsghdr on every target.
    let mut control = [0u64; 8];
    // SAFETY: an all-zero msghdr is valid (no name, no iov, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // The field's type differs between libcs (size_t on glibc, socklen_t on musl).
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: msg points at live buffers of the sizes given; MSG_DONTWAIT never blocks.
    let len = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    let (now, wall) = (Instant::now(), SystemTime::now());
    if len < 0 {
        return Err(io::Error::last_os_error());
    }
    let arrived = kernel_stamp(&msg).map_or(now, |stamp| arrival(stamp, wall, now));
    Ok((len as usize, arrived))
}

/// The `SO_TIMESTAMPNS` stamp among `msg`'s control messages, as wall time. A control
/// message of another size (a 32-bit target whose libc and kernel disagree on
/// `struct timespec`) is ignored rather than misread.
fn kernel_stamp(msg: &libc::msghdr) -> Option<SystemTime> {
    // SAFETY: the CMSG_* macros walk the control buffer that recvmsg just filled, within
    // the length it reported.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            let expected = libc::CMSG_LEN(size_of::<libc::timespec>() as u32) as usize;
            if header.cmsg_level == libc::SOL_SOCKET
                && header.cmsg_type == libc::SO_TIMESTAMPNS
                && header.cmsg_len as usize == expected
            {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                let secs = u64::try_from(ts.tv_sec).ok()?;
                let nanos = u32::try_from(ts.tv_nsec).ok()?;
                return UNIX_EPOCH.checked_add(Duration::new(secs, nanos));
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

/// The monotonic time at which a packet stamped `stamp` (wall time) arrived, given the
/// wall and monotonic clocks read together at `wall` and `now`. A stamp in the future or
/// older than [`MAX_AGE`] means the wall clock moved: then `now`.
pub(crate) fn arrival(stamp: SystemTime, wall: SystemTime, now: Instant) -> Instant {
    match wall.duration_since(stamp) {
        Ok(age) if age <= MAX_AGE => now.checked_sub(age).unwrap_or(now),
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_read_late_keeps_its_arrival_time() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let stamp = wall - Duration::from_millis(2600);
        assert_eq!(arrival(stamp, wall, now), now - Duration::from_millis(2600));
    }

    #[test]
    fn a_stepped_wall_clock_falls_back_to_the_time_of_reading() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let future = wall + Duration::from_secs(5);
        assert_eq!(arrival(future, wall, now), now);
        let ancient = wall - Duration::from_secs(3600);
        assert_eq!(arrival(ancient, wall, now), now);
    }
}
