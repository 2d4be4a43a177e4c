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
    fn holds(&mut self, ruleset: &Ruleset) -> impl Future<Output = Result<bool, Self::Error>>;
    /// Makes our table hold `ruleset`, in one transaction.
    fn apply(&mut self, ruleset: &Ruleset) -> impl Future<Output = Result<(), Self::Error>>;
    /// Removes our table, if present.
    fn remove(&mut self) -> impl Future<Output = Result<(), Self::Error>>;
}

/// What one pass of [`reconcile_routing`] did.
#[derive(Debug)]
pub struct Outcome<E> {
    /// Changes the kernel took.
    pub applied: Vec<Change>,
    /// Changes the kernel refused, with why (an off-link gateway, say).
    pub failed: Vec<(Change, E)>,
}

impl<E> Outcome<E> {
    /// Whether the kernel now holds everything that was asked.
    pub fn complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Brings routes and rules in line with `desired`. Every change is attempted on its own:
/// one the kernel refuses (a line's gateway that is not on-link) never keeps the others
/// out, so the rules, and the routes of every other line, still go in. Fails as a whole
/// only when our objects cannot be read. Each applied change is logged through
/// `describe`, which can name devices.
pub async fn reconcile_routing<R: Routing>(
    routing: &mut R,
    desired: &Desired,
    describe: impl Fn(&Change) -> String,
) -> Result<Outcome<R::Error>, R::Error> {
    let routes = routing.owned_routes().await?;
    let rules = routing.owned_rules().await?;
    let mut outcome = Outcome {
        applied: Vec::new(),
        failed: Vec::new(),
    };
    for change in diff(desired, &routes, &rules) {
        match routing.apply(&change).await {
            Ok(()) => {
                tracing::info!("applied: {}", describe(&change));
                outcome.applied.push(change);
            }
            Err(e) => outcome.failed.push((change, e)),
        }
    }
    Ok(outcome)
}

/// Re-applies our nft table when it differs from `ruleset` (missing, flushed, edited).
/// Returns whether anything was applied.
pub async fn reconcile_firewall<F: Firewall>(
    firewall: &mut F,
    ruleset: &Ruleset,
) -> Result<bool, F::Error> {
    if firewall.holds(ruleset).await? {
        return Ok(false);
    }
    firewall.apply(ruleset).await?;
    let table = crate::core::owned::NFT_TABLE;
    match ruleset.share.as_str() {
        "" => tracing::info!("applied: nft table inet {table}"),
        share => tracing::info!("applied: nft table inet {table}, load sharing: {share}"),
    }
    Ok(true)
}

/// Removes everything we own: the stop path, and `uplink` leaving nothing behind. Carries
/// on past failures (as netavark's teardown does), so one object that cannot be deleted
/// does not leave the rest behind; returns how many objects went, or every error.
pub async fn remove_all<R: Routing, F: Firewall>(
    routing: &mut R,
    firewall: &mut F,
) -> Result<usize, Vec<String>> {
    let mut errors = Vec::new();
    let mut removed = 0;
    match reconcile_routing(routing, &Desired::default(), Change::to_string).await {
        Ok(outcome) => {
            removed = outcome.applied.len();
            errors.extend(outcome.failed.iter().map(|(c, e)| format!("{c}: {e}")));
        }
        Err(e) => errors.push(e.to_string()),
    }
    if let Err(e) = firewall.remove().await {
        errors.push(e.to_string());
    }
    if errors.is_empty() {
        Ok(removed)
    } else {
        Err(errors)
    }
}
