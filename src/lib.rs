//! uplink: keeps a Linux router online across several internet lines.
//!
//! The crate reads top-down along the data flow:
//! [`config`] -> [`core`] (pure line state, selection, desired state) ->
//! [`reconcile`] (diff desired against the kernel) -> [`system`] (netlink, nft drivers),
//! with [`probe`] feeding ICMP evidence and [`daemon`] owning the event loop.

pub mod config;
pub mod core;
pub mod daemon;
pub mod files;
pub mod hooks;
#[cfg(feature = "lab")]
pub mod lab;
pub mod log;
pub mod netns;
pub mod observe;
pub mod probe;
pub mod reconcile;
pub mod sort;
pub mod system;
pub mod text;
