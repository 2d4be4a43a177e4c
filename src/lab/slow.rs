//! A probe target whose echo replies come late: the lab has no netem, so latency is made
//! by a userspace responder. The target address lives on one ISP's loopback, where only
//! that line's probes reach it; the ISP's kernel is told not to answer echo requests
//! (`icmp_echo_ignore_all`, which raw sockets still see), and a thread answers them after
//! the delay currently set.

use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::cmd::sysctl;
use super::{Lab, LabError, Line, Role};
use crate::netns::Netns;
use crate::probe::packet::checksum;

/// The slow target's address (on the ISP's loopback).
pub const SLOW_TARGET: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 150);

/// Longest wait for a request before looking at the stop flags and due replies.
const POLL: Duration = Duration::from_millis(5);

/// The running responder; stops on drop. [`SlowTarget::set_delay`] changes the delay.
#[derive(Debug)]
pub struct SlowTarget {
    delay_ms: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Lab {
    /// Puts [`SLOW_TARGET`] on `line`'s ISP and answers its echo requests after `delay`.
    pub fn start_slow_target(&self, line: Line, delay: Duration) -> Result<SlowTarget, LabError> {
        SlowTarget::start_in(self.ns(Role::isp(line)), delay, self.shutdown_flag())
    }
}

impl SlowTarget {
    /// Puts [`SLOW_TARGET`] on `ns`'s loopback and answers its echo requests after `delay`
    /// until dropped or until `shutdown` is set.
    pub fn start_in(
        ns: &Netns,
        delay: Duration,
        shutdown: Arc<AtomicBool>,
    ) -> Result<SlowTarget, LabError> {
        ns.ip(&["addr", "add", &format!("{SLOW_TARGET}/32"), "dev", "lo"])?;
        sysctl(ns, &["net.ipv4.icmp_echo_ignore_all=1".to_string()])?;
        let socket = ns
            .run_in(open_socket)?
            .map_err(LabError::io(format!("slow target socket on {SLOW_TARGET}")))?;
        let delay_ms = Arc::new(AtomicU32::new(delay.as_millis() as u32));
        let stop = Arc::new(AtomicBool::new(false));
        let flags = [Arc::clone(&stop), shutdown];
        let delay = Arc::clone(&delay_ms);
        let thread = thread::Builder::new()
            .name("lab-slow".into())
            .spawn(move || respond(&socket, &delay, &flags))
            .map_err(LabError::io("slow target thread"))?;
        Ok(SlowTarget {
            delay_ms,
            stop,
            thread: Some(thread),
        })
    }

    /// Answers later requests after `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u32, Ordering::SeqCst);
    }
}

impl Drop for SlowTarget {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Bound to the target address, so replies leave with it as their source.
fn open_socket() -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))?;
    socket.bind(&SockAddr::from(SocketAddrV4::new(SLOW_TARGET, 0)))?;
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket)
}

fn respond(socket: &Socket, delay_ms: &AtomicU32, stop: &[Arc<AtomicBool>; 2]) {
    let mut due: VecDeque<(Instant, Ipv4Addr, Vec<u8>)> = VecDeque::new();
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    while !stop.iter().any(|f| f.load(Ordering::Relaxed)) {
        match socket.recv_from(&mut buf) {
            Ok((len, _)) => {
                // SAFETY: recv_from initialised the first `len` bytes.
                let datagram: Vec<u8> = buf[..len]
                    .iter()
                    .map(|b| unsafe { b.assume_init() })
                    .collect();
                if let Some((from, reply)) = echo_reply_for(&datagram) {
                    let delay = Duration::from_millis(u64::from(delay_ms.load(Ordering::SeqCst)));
                    due.push_back((Instant::now() + delay, from, reply));
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
        while due.front().is_some_and(|(at, _, _)| *at <= Instant::now()) {
            let (_, to, reply) = due.pop_front().unwrap();
            let _ = socket.send_to(&reply, &SockAddr::from(SocketAddrV4::new(to, 0)));
        }
    }
}

/// For an echo request to [`SLOW_TARGET`] (a raw IPv4 datagram): its sender and the ICMP
/// echo reply to send back (same identifier, sequence and payload).
fn echo_reply_for(datagram: &[u8]) -> Option<(Ipv4Addr, Vec<u8>)> {
    let header_len = usize::from(*datagram.first()? & 0x0f) * 4;
    let src = Ipv4Addr::new(*datagram.get(12)?, datagram[13], datagram[14], datagram[15]);
    let dst = Ipv4Addr::new(datagram[16], datagram[17], datagram[18], datagram[19]);
    let icmp = datagram.get(header_len..)?;
    if dst != SLOW_TARGET || icmp.len() < 8 || icmp[0] != 8 || icmp[1] != 0 {
        return None;
    }
    let mut reply = icmp.to_vec();
    reply[0] = 0;
    reply[2..4].copy_from_slice(&[0, 0]);
    let sum = checksum(&reply);
    reply[2..4].copy_from_slice(&sum.to_be_bytes());
    Some((src, reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_to_the_target_gets_a_reply_with_a_valid_checksum() {
        let mut datagram = vec![0x45, 0, 0, 36, 0, 0, 0, 0, 64, 1, 0, 0];
        datagram.extend(Ipv4Addr::new(192, 0, 2, 2).octets());
        datagram.extend(SLOW_TARGET.octets());
        datagram.extend([8, 0, 0, 0, 0x12, 0x34, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8]);
        let (from, reply) = echo_reply_for(&datagram).unwrap();
        assert_eq!(from, Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(reply[0], 0);
        assert_eq!(
            &reply[4..],
            &datagram[24..],
            "id, sequence and payload kept"
        );
        assert_eq!(checksum(&reply), 0, "a correct checksum sums to zero");
        datagram[20] = 0; // an echo reply is not answered
        assert!(echo_reply_for(&datagram).is_none());
    }
}
