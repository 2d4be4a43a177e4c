//! The pure core: line state machines, selection of the active line(s), and the desired
//! kernel state. No I/O and no clock: every function takes the time it should assume.

pub mod burst;
pub mod damping;
pub mod desired;
pub mod engine;
pub mod figures;
#[cfg(test)]
mod fixtures;
pub mod flush;
pub mod gateway;
pub mod line;
pub mod nft;
pub mod notice;
pub mod owned;
pub mod quality;
pub mod select;
pub mod sessions;
pub mod share;
pub mod traffic;

pub use desired::{desired_state, Desired, NextHop, Route, Rule, RuleMatch, Ruleset};
pub use engine::{Engine, Notice};
pub use line::{Health, LineState, LinkFacts, Transition};
pub use select::{select, Candidate, Selection, SelectionBasis};
