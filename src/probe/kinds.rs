//! TCP, DNS and HTTP probes, and DNS lookups for host-name targets. Each socket is made as
//! the ICMP socket is (DESIGN principle 4): the line's firewall mark selects its routing
//! table, and it is bound to the line's device and source address, so it leaves through
//! that line whether or not the line carries traffic. Every call here is bounded by the
//! caller's timeout; nothing blocks.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::dns::{self, NXDOMAIN};
use super::http::{self, StatusLine, MAX_STATUS_LINE};
use crate::config::{HttpStatus, Target, TargetKind};

/// Datagrams read while waiting for a DNS answer before giving up (stray or forged ones).
const MAX_DATAGRAMS: usize = 8;
/// Room for a DNS answer over UDP without EDNS.
const DNS_BUF: usize = 512;

/// How a line's probes leave: its mark, device and source address.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub device: String,
    pub source: IpAddr,
    pub mark: u32,
}

/// What a non-ICMP probe needs besides the target.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub path: Path,
    pub dns_name: String,
    pub http_status: HttpStatus,
}

/// The result of one TCP, DNS or HTTP probe before its timeout.
pub(crate) type Result = std::result::Result<Duration, String>;

/// Probes `target` at `addr` once; the caller bounds it with the probe timeout.
pub(crate) async fn probe(settings: &Settings, target: &Target, addr: IpAddr) -> Result {
    let to = SocketAddr::new(addr, target.port);
    match target.kind {
        TargetKind::Tcp => tcp(&settings.path, to).await,
        TargetKind::Dns => dns_probe(settings, to).await,
        TargetKind::Http => http_probe(settings, target, to).await,
        TargetKind::Icmp => Err("not a socket probe".into()),
    }
}

/// A socket of `ty` marked, bound to the line's device and source, non-blocking, and
/// registered with tokio. `AsyncFd<Socket>` as the ICMP socket, so no more of tokio's
/// socket types end up in the router binary.
fn line_socket(path: &Path, ty: Type, protocol: Protocol) -> io::Result<AsyncFd<Socket>> {
    let domain = if path.source.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, ty, Some(protocol))?;
    socket.set_nonblocking(true)?;
    socket.set_mark(path.mark)?;
    socket.bind_device(Some(path.device.as_bytes()))?;
    socket.bind(&SockAddr::from(SocketAddr::new(path.source, 0)))?;
    let interest = Interest::READABLE | Interest::WRITABLE;
    // SAFETY: the Socket owns its fd, which stays open and unchanged until the AsyncFd
    // (the Socket's only owner from here on) is dropped.
    unsafe { AsyncFd::register_with_interest(socket, interest) }.map_err(|e| e.into_parts().1)
}

/// How a TCP connection attempt ended.
enum Connected {
    Open(AsyncFd<Socket>),
    /// The host answered with a reset: the path works, nothing listens.
    Refused,
}

async fn connect(path: &Path, to: SocketAddr) -> std::result::Result<Connected, String> {
    let fail = |e: io::Error| format!("connect to {to}: {e}");
    let socket = line_socket(path, Type::STREAM, Protocol::TCP).map_err(fail)?;
    match socket.get_ref().connect(&SockAddr::from(to)) {
        Ok(()) => return Ok(Connected::Open(socket)),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(Connected::Refused),
        Err(e) => return Err(fail(e)),
    }
    // Writable once the handshake is done or has failed; SO_ERROR tells which.
    let mut ready = socket.writable().await.map_err(fail)?;
    ready.clear_ready();
    match socket.get_ref().take_error() {
        Ok(None) => Ok(Connected::Open(socket)),
        Ok(Some(e)) | Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            Ok(Connected::Refused)
        }
        Ok(Some(e)) | Err(e) => Err(fail(e)),
    }
}

/// Reads what is queued on `socket` into `buf`, waiting until something is.
async fn recv(socket: &AsyncFd<Socket>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        let mut ready = socket.readable().await?;
        // SAFETY: recv only writes initialised bytes into the slice it is given; viewing
        // initialised u8s as MaybeUninit is sound.
        let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) };
        match ready.try_io(|fd| fd.get_ref().recv(uninit)) {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

/// A completed handshake or a reset: the time it took.
async fn tcp(path: &Path, to: SocketAddr) -> Result {
    let start = Instant::now();
    connect(path, to).await?;
    Ok(start.elapsed())
}

/// One query for `dns_name`; any well-formed answer counts, NXDOMAIN included.
async fn dns_probe(settings: &Settings, to: SocketAddr) -> Result {
    let qtype = if settings.dns_name == "." {
        dns::TYPE_SOA
    } else {
        dns::TYPE_A
    };
    let (_, rtt) = ask(&settings.path, to, &settings.dns_name, qtype).await?;
    Ok(rtt)
}

/// Sends one query to `to` through the line and waits for its answer (the caller's
/// timeout bounds the wait): the answer and the time from query to answer.
async fn ask(
    path: &Path,
    to: SocketAddr,
    name: &str,
    qtype: u16,
) -> std::result::Result<(dns::Answer, Duration), String> {
    let fail = |e: io::Error| format!("dns {to}: {e}");
    let socket = line_socket(path, Type::DGRAM, Protocol::UDP).map_err(fail)?;
    // Connected: the kernel then drops datagrams from anyone else and reports an ICMP
    // port unreachable (a dead resolver) as a receive error.
    socket
        .get_ref()
        .connect(&SockAddr::from(to))
        .map_err(fail)?;
    let id = (super::random_u64() & 0xffff) as u16;
    let query = dns::query(id, name, qtype);
    let start = Instant::now();
    // One small datagram on a fresh socket: the send buffer has room, no waiting.
    socket.get_ref().send(&query).map_err(fail)?;
    let mut buf = [0u8; DNS_BUF];
    let mut last = String::from("no answer");
    for _ in 0..MAX_DATAGRAMS {
        let len = recv(&socket, &mut buf).await.map_err(fail)?;
        match dns::parse_answer(&buf[..len], id, name, qtype) {
            Ok(answer) => return Ok((answer, start.elapsed())),
            Err(e) => last = format!("dns {to}: {e}"),
        }
    }
    Err(last)
}

/// GET the target's path; the status must match. The time is from the request to the
/// status line.
async fn http_probe(settings: &Settings, target: &Target, to: SocketAddr) -> Result {
    let fail = |e: io::Error| format!("http {to}: {e}");
    let stream = match connect(&settings.path, to).await? {
        Connected::Open(stream) => stream,
        Connected::Refused => return Err(format!("http {to}: connection refused")),
    };
    let request = http::request(&target.host.to_string(), target.port, &target.path);
    let start = Instant::now();
    // A request of a few hundred bytes on a fresh connection fits the send buffer at once;
    // a short write would mean something odd on the path, and counts as a failure.
    let sent = stream
        .get_ref()
        .send_with_flags(request.as_bytes(), libc::MSG_NOSIGNAL)
        .map_err(fail)?;
    if sent != request.len() {
        return Err(format!("http {to}: request not sent whole"));
    }
    let mut buf = [0u8; MAX_STATUS_LINE];
    let mut len = 0;
    let status = loop {
        match http::status_line(&buf[..len]) {
            StatusLine::Status(code) => break code,
            StatusLine::Malformed => return Err(format!("http {to}: not an HTTP response")),
            StatusLine::Incomplete => {}
        }
        let n = recv(&stream, &mut buf[len..]).await.map_err(fail)?;
        if n == 0 {
            return Err(format!("http {to}: closed before a status line"));
        }
        len += n;
    };
    let rtt = start.elapsed();
    if settings.http_status.matches(status) {
        return Ok(rtt);
    }
    let hint = if (300..400).contains(&status) {
        " (a redirect: captive portal?)"
    } else {
        ""
    };
    let expected = settings.http_status;
    Err(format!("http status {status}, expected {expected}{hint}"))
}

/// Looks `name` up through the line: the first of `resolvers` that answers decides. An
/// address of the line's family and its TTL, or why there is none.
pub(crate) async fn resolve(
    path: &Path,
    resolvers: &[IpAddr],
    name: &str,
    timeout: Duration,
) -> std::result::Result<(IpAddr, Duration), String> {
    let qtype = if path.source.is_ipv6() {
        dns::TYPE_AAAA
    } else {
        dns::TYPE_A
    };
    let mut why = format!("name {name:?}: no resolver for the line");
    for &resolver in resolvers {
        let to = SocketAddr::new(resolver, 53);
        let asked = tokio::time::timeout(timeout, ask(path, to, name, qtype)).await;
        let answer = match asked {
            Ok(Ok((answer, _))) => answer,
            Ok(Err(e)) => {
                why = format!("name {name:?}: {e}");
                continue;
            }
            Err(_) => {
                why = format!("name {name:?}: no answer from {resolver}");
                continue;
            }
        };
        let found = answer
            .addrs
            .iter()
            .find(|(a, _)| a.is_ipv6() == path.source.is_ipv6());
        return match (answer.rcode, found) {
            (0, Some(&(addr, ttl))) => Ok((addr, Duration::from_secs(u64::from(ttl)))),
            (NXDOMAIN, _) => Err(format!(
                "name {name:?}: does not exist (NXDOMAIN from {resolver})"
            )),
            (0, None) => Err(format!("name {name:?}: no {} record", kind_name(qtype))),
            (rcode, _) => Err(format!("name {name:?}: {resolver} answered rcode {rcode}")),
        };
    }
    Err(why)
}

fn kind_name(qtype: u16) -> &'static str {
    if qtype == dns::TYPE_AAAA {
        "AAAA"
    } else {
        "A"
    }
}
