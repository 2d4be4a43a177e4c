//! The engine's policies: which line each policy's traffic uses, and the notices when
//! that changes.

use std::collections::HashMap;

use super::{Engine, Notice};
use crate::config::Fallback;
use crate::core::desired::PolicyChoice;

impl Engine {
    fn policy_choices(&self) -> Vec<PolicyChoice> {
        self.config
            .policies
            .iter()
            .map(|policy| {
                // A degraded or suppressed line only when every listed line that is up is.
                let serving = |good: bool| {
                    policy.uplinks.iter().find_map(|name| {
                        let i = self.config.uplinks.iter().position(|u| &u.name == name)?;
                        let line = &self.lines[i];
                        let fine = line.degraded().is_none() && !line.is_suppressed();
                        let fits = self.serves(i) && (!good || fine);
                        fits.then_some(i)
                    })
                };
                let line = serving(true).or_else(|| serving(false));
                match (line, policy.fallback) {
                    (Some(i), _) => PolicyChoice::Line(i),
                    (None, Fallback::Default) => PolicyChoice::Fallthrough,
                    (None, Fallback::Unreachable) => PolicyChoice::Unreachable,
                }
            })
            .collect()
    }

    /// The line policy `name` sends its traffic through now: a line's name, `unreachable`
    /// or `default` (the normal selection); `None` for an unknown policy.
    pub fn policy_line(&self, name: &str) -> Option<&str> {
        let i = self.config.policies.iter().position(|p| p.name == name)?;
        Some(match self.policies.get(i)? {
            PolicyChoice::Line(line) => &self.config.uplinks[*line].name,
            PolicyChoice::Unreachable => "unreachable",
            PolicyChoice::Fallthrough => "default",
        })
    }

    fn describe(&self, choice: Option<&PolicyChoice>) -> String {
        match choice {
            Some(PolicyChoice::Line(i)) => self.config.uplinks[*i].name.clone(),
            Some(PolicyChoice::Unreachable) => "unreachable".into(),
            Some(PolicyChoice::Fallthrough) => "the normal selection".into(),
            None => "none".into(),
        }
    }

    /// Recomputes the policy choices. Changes are judged by policy name and by what the
    /// choice points at, not by position, so a reload that reorders lines or policies
    /// reports only real moves.
    pub(super) fn repolicy(&mut self) -> Vec<Notice> {
        let next = self.policy_choices();
        let mut notices = Vec::new();
        let mut described = HashMap::new();
        for (policy, choice) in self.config.policies.iter().zip(&next) {
            let to = self.describe(Some(choice));
            let from = self.policy_moves.get(&policy.name).cloned();
            if from.as_ref() != Some(&to) {
                notices.push(Notice::Policy {
                    name: policy.name.clone(),
                    from: from.unwrap_or_else(|| "none".into()),
                    to: to.clone(),
                });
            }
            described.insert(policy.name.clone(), to);
        }
        self.policies = next;
        self.policy_moves = described;
        notices
    }
}
