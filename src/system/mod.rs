//! Drivers that touch the kernel: rtnetlink (encoded by hand, see [`wire`]) for routes,
//! rules and link facts, and `nft` for our nftables table. Each implements a small trait from [`crate::reconcile`].

pub mod conntrack;
pub mod convert;
pub mod netifd;
pub mod netlink;
pub mod nft;
pub mod stats;
pub mod sysctl;
pub mod wire;

pub use netlink::{monitor as netlink_monitor, KernelChange, Netlink, NetlinkError};
pub use nft::{monitor as nft_monitor, Nft, NftError};
