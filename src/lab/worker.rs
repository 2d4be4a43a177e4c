//! A lab server's thread: it runs until its stop flag is set, and is stopped and joined
//! when its owner is dropped, so no test leaves a thread serving in a deleted namespace.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A running thread and the flag that stops it.
#[derive(Debug)]
pub struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// `thread` watches `stop`.
    pub fn new(stop: Arc<AtomicBool>, thread: JoinHandle<()>) -> Self {
        Worker {
            stop,
            thread: Some(thread),
        }
    }

    /// Sets the flag and waits for the thread; a second call does nothing.
    pub fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.halt();
    }
}
