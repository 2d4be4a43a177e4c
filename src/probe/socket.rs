//! The raw ICMP (v4) or ICMPv6 socket of one line: marked and bound so probes leave through
//! that line whether or not it is the active one (DESIGN principle 4).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tracing::debug;

use super::packet::{self, Echo};
use super::stamp;
use super::{ProbeError, ProbeSpec};

/// `ICMP_FILTER` from `<linux/icmp.h>` (level `SOL_RAW`); the libc crate does not export it.
const ICMP_FILTER: libc::c_int = 1;
/// `ICMP6_FILTER` from `<linux/icmpv6.h>` (level `IPPROTO_ICMPV6`).
const ICMP6_FILTER: libc::c_int = 1;
/// Room for an IPv4 header with options and our small reply; anything longer is not ours.
const RECV_BUF: usize = 256;

/// A non-blocking raw ICMP socket registered with the tokio reactor.
#[derive(Debug)]
pub(crate) struct ProbeSocket {
    fd: AsyncFd<Socket>,
    v6: bool,
}

impl ProbeSocket {
    /// Opens the socket for `spec`'s line. Must run inside a tokio runtime with I/O enabled.
    pub(crate) fn open(spec: &ProbeSpec) -> Result<Self, ProbeError> {
        let fail = |action: String| {
            let device = spec.device.clone();
            move |error| ProbeError::Socket {
                device,
                action,
                error,
            }
        };
        let v6 = spec.source.is_ipv6();
        let (domain, protocol) = if v6 {
            (Domain::IPV6, Protocol::ICMPV6)
        } else {
            (Domain::IPV4, Protocol::ICMPV4)
        };
        let socket = Socket::new(domain, Type::RAW, Some(protocol))
            .map_err(fail("open raw ICMP socket".into()))?;
        socket
            .set_nonblocking(true)
            .map_err(fail("set non-blocking".into()))?;
        // The mark selects the line's own routing table through the line's ip rule.
        socket
            .set_mark(spec.mark)
            .map_err(fail(format!("set SO_MARK {:#x}", spec.mark)))?;
        // Binding to the device keeps probes on this line and receives only what arrives on
        // it; binding to the address fixes the source and drops replies to other lines.
        socket
            .bind_device(Some(spec.device.as_bytes()))
            .map_err(fail("bind to device".into()))?;
        socket
            .bind(&SockAddr::from(SocketAddr::new(spec.source, 0)))
            .map_err(fail(format!("bind to {}", spec.source)))?;
        accept_only_echo_replies(&socket, v6).map_err(fail("set ICMP filter".into()))?;
        if let Err(error) = stamp::enable(&socket) {
            debug!(%error, "no kernel receive stamps: replies are timed when read");
        }
        // SAFETY: the Socket owns its fd, which stays open and unchanged until the AsyncFd
        // (the Socket's only owner from here on) is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }
            .map_err(|e| fail("register with tokio".into())(e.into_parts().1))?;
        Ok(ProbeSocket { fd, v6 })
    }

    /// The echo request for `echo` in this socket's ICMP version.
    pub(crate) fn request(&self, echo: Echo) -> [u8; packet::REQUEST_LEN] {
        if self.v6 {
            packet::encode_request6(echo)
        } else {
            packet::encode_request(echo)
        }
    }

    /// Sends one ICMP message to `target` without waiting: a full send buffer is an error
    /// like any other, and the caller counts the probe as lost.
    pub(crate) fn send(&self, target: IpAddr, message: &[u8]) -> io::Result<()> {
        let to = SockAddr::from(SocketAddr::new(target, 0));
        self.fd.get_ref().send_to(message, &to).map(|_| ())
    }

    /// Waits until the socket is readable, then appends every echo reply queued on it to
    /// `out` with the time it arrived. Cancel-safe: nothing is read before the only await.
    pub(crate) async fn recv_replies(&self, out: &mut Vec<(Echo, Instant)>) -> io::Result<()> {
        let mut guard = self.fd.readable().await?;
        // WouldBlock from the drain clears tokio's readiness; anything else keeps it.
        match guard.try_io(|fd| self.drain(fd.get_ref(), out)) {
            Ok(result) => result,
            Err(_would_block) => Ok(()),
        }
    }

    /// Appends every echo reply already queued, without waiting: called before probes are
    /// declared lost, so a reply that came while the task was not running still counts.
    pub(crate) fn drain_now(&self, out: &mut Vec<(Echo, Instant)>) {
        if let Err(error) = self.drain(self.fd.get_ref(), out) {
            if error.kind() != io::ErrorKind::WouldBlock {
                debug!(%error, "probe socket receive error ignored");
            }
        }
    }

    /// Reads until the queue is empty (`WouldBlock`) or an error.
    fn drain(&self, socket: &Socket, out: &mut Vec<(Echo, Instant)>) -> io::Result<()> {
        let mut buf = [0u8; RECV_BUF];
        loop {
            match stamp::recv(socket, &mut buf) {
                Ok((len, arrived)) => {
                    let echo = if self.v6 {
                        packet::parse_reply6(&buf[..len])
                    } else {
                        packet::parse_reply(&buf[..len])
                    };
                    out.extend(echo.map(|e| (e, arrived)));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Err(error),
                // An ICMP error for an earlier probe can surface here once (the kernel
                // clears it on read). It says nothing a timeout will not, so skip it and
                // let the next readiness continue the drain.
                Err(error) => {
                    debug!(%error, "probe socket receive error ignored");
                    return Ok(());
                }
            }
        }
    }
}

/// Lets the kernel drop every ICMP type but echo reply before it reaches our queue, so a
/// router that is pinged a lot does not wake the prober for each request. Filtering by
/// identifier still happens in user space.
fn accept_only_echo_replies(socket: &Socket, v6: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // A set bit drops that ICMP type. ICMPv4: one word, type 0 is echo reply. ICMPv6: 256
    // bits (struct icmp6_filter), type 129 is echo reply.
    let mask4: [u32; 1] = [!1];
    let mut mask6 = [u32::MAX; 8];
    let reply6 = usize::from(packet::ECHO_REPLY6);
    mask6[reply6 >> 5] &= !(1 << (reply6 & 31));
    let (level, name, words): (libc::c_int, libc::c_int, &[u32]) = if v6 {
        (libc::IPPROTO_ICMPV6, ICMP6_FILTER, &mask6)
    } else {
        (libc::SOL_RAW, ICMP_FILTER, &mask4)
    };
    // SAFETY: setsockopt with a pointer to a live array of u32 and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            words.as_ptr().cast(),
            std::mem::size_of_val(words) as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
