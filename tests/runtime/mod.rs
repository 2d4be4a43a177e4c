//! A current-thread tokio runtime (as the daemon uses) inside a namespace, for the
//! namespace tests of the drivers: the sockets the body opens live in that namespace.
//! Needs no lab, so the router build's tests use it too.

use std::future::Future;

use uplink::netns::Netns;

/// Runs the future `body` makes to completion on a current-thread runtime inside `ns`.
pub fn in_runtime<F, Fut, R>(ns: &Netns, body: F) -> R
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = R>,
    R: Send + 'static,
{
    ns.run_in(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(body())
    })
    .unwrap()
}
