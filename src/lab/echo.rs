//! The UDP echo server in `net`: it answers each datagram with the same payload followed by
//! the source address it saw. Behind the router's masquerade that source is the router's
//! address on the line that carried the packet, so every reply says which line was used.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::wire::echo_reply;
use super::{Lab, LabError, Role, ECHO_SERVER};

/// How often the server thread looks at its stop flags while no datagram arrives.
const STOP_POLL: Duration = Duration::from_millis(50);

/// A running echo server on [`ECHO_SERVER`]; stops (and joins its thread) on drop.
#[derive(Debug)]
pub struct EchoServer {
    served: Arc<AtomicU32>,
    worker: super::worker::Worker,
}

impl Lab {
    /// Starts the UDP echo server on 203.0.113.10:7 in `net`, on a thread of its own.
    pub fn start_echo_server(&self) -> Result<EchoServer, LabError> {
        let socket = self
            .ns(Role::Net)
            .run_in(|| {
                let socket = UdpSocket::bind(ECHO_SERVER)?;
                socket.set_read_timeout(Some(STOP_POLL))?;
                Ok(socket)
            })?
            .map_err(LabError::io(format!("echo server socket on {ECHO_SERVER}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU32::new(0));
        let flags = [Arc::clone(&stop), self.shutdown_flag()];
        let counter = Arc::clone(&served);
        let thread = thread::Builder::new()
            .name("lab-echo".to_string())
            .spawn(move || serve(&socket, &flags, &counter))
            .map_err(LabError::io("echo server thread"))?;
        Ok(EchoServer {
            served,
            worker: super::worker::Worker::new(stop, thread),
        })
    }
}

impl EchoServer {
    /// How many datagrams it has answered so far.
    pub fn served(&self) -> u32 {
        self.served.load(Ordering::Relaxed)
    }

    /// Stops the server and waits for its thread (dropping it does the same).
    pub fn stop(mut self) {
        self.worker.halt();
    }
}

fn serve(socket: &UdpSocket, stop: &[Arc<AtomicBool>; 2], served: &AtomicU32) {
    let mut buf = [0u8; 2048];
    while !stop.iter().any(|flag| flag.load(Ordering::Relaxed)) {
        match socket.recv_from(&mut buf) {
            Ok((len, SocketAddr::V4(from))) => {
                // A failed send is a lost reply, which is what the measurement is for.
                if socket.send_to(&echo_reply(&buf[..len], from), from).is_ok() {
                    served.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => {
                tracing::warn!("lab echo server: {e}");
                // Keeps an unexpected persistent error from spinning the CPU.
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
