//! Makes the kernel hold the desired state: read what we own, diff (pure), apply the
//! minimum, log each change. Drivers sit behind the small traits below.

mod diff;

use std::future::Future;

pub use diff::{diff, Change};

use crate::core::{Desired, Route, Rule, Ruleset};

/// Routes and rules of ours in the kernel (drivers: [`crate::system::netlink`]).
pub trait Routing {
    type Error: std::error::Error;
    /// Our routes (own protocol, own tables).
    fn owned_routes(&mut self) -> impl Future<Output = Result<Vec<Route>, Self::Error>>;
    /// Our rules (own protocol, own priority range).
    fn owned_rules(&mut self) -> impl Future<Output = Result<Vec<Rule>, Self::Error>>;
    /// Applies one change.
    fn apply(&mut self, change: &Change) -> impl Future<Output = Result<(), Self::Error>>;
}

/// Our nftables table (driver: [`crate::system::nft`]).
pub trait Firewall {
    type Error: std::error::Error;
    /// Whether the kernel holds exactly `ruleset` as our table.
    fn holds(&mut self, ruleset: &Ruleset) -> Result<bool, Self::Error>;
    /// Makes our table hold `ruleset`, in one transaction.
    fn apply(&mut self, ruleset: &Ruleset) -> Result<(), Self::Error>;
    /// Removes our table, if present.
    fn remove(&mut self) -> Result<(), Self::Error>;
}

/// Brings routes and rules in line with `desired`; returns the changes applied. Stops at
/// the first failure (the caller retries: the next diff picks up where this one stopped).
/// Each applied change is logged through `describe`, which can name devices.
pub async fn reconcile_routing<R: Routing>(
    routing: &mut R,
    desired: &Desired,
    describe: impl Fn(&Change) -> String,
) -> Result<Vec<Change>, R::Error> {
    let routes = routing.owned_routes().await?;
    let rules = routing.owned_rules().await?;
    let changes = diff(desired, &routes, &rules);
    for change in &changes {
        routing.apply(change).await?;
        tracing::info!("applied: {}", describe(change));
    }
    Ok(changes)
}

/// Re-applies our nft table when it differs from `ruleset` (missing, flushed, edited).
/// Returns whether anything was applied.
pub fn reconcile_firewall<F: Firewall>(
    firewall: &mut F,
    ruleset: &Ruleset,
) -> Result<bool, F::Error> {
    if firewall.holds(ruleset)? {
        return Ok(false);
    }
    firewall.apply(ruleset)?;
    let table = crate::core::owned::NFT_TABLE;
    match ruleset.share.as_str() {
        "" => tracing::info!("applied: nft table inet {table}"),
        share => tracing::info!("applied: nft table inet {table}, load sharing: {share}"),
    }
    Ok(true)
}

/// Removes everything we own: the stop path, and `uplink` leaving nothing behind.
pub async fn remove_all<R: Routing, F: Firewall>(
    routing: &mut R,
    firewall: &mut F,
) -> Result<usize, String> {
    let empty = Desired::default();
    let changes = reconcile_routing(routing, &empty, Change::to_string)
        .await
        .map_err(|e| e.to_string())?;
    firewall.remove().map_err(|e| e.to_string())?;
    Ok(changes.len())
}
