//! A value per (line, target), looked up on every probe reply: a short list searched by
//! borrowed names, so the hot path allocates nothing once a target has been seen (a map
//! keyed by owned strings needs two new `String`s for every lookup).

/// Values by line name and target text.
#[derive(Debug, Clone)]
pub struct PerTarget<T> {
    entries: Vec<(String, String, T)>,
}

impl<T> Default for PerTarget<T> {
    fn default() -> Self {
        PerTarget {
            entries: Vec::new(),
        }
    }
}

impl<T: Default> PerTarget<T> {
    /// The value of `target` on `line`, created empty the first time.
    pub fn entry(&mut self, line: &str, target: &str) -> &mut T {
        let found = self
            .entries
            .iter()
            .position(|(l, t, _)| l == line && t == target);
        let i = found.unwrap_or_else(|| {
            self.entries
                .push((line.to_owned(), target.to_owned(), T::default()));
            self.entries.len() - 1
        });
        &mut self.entries[i].2
    }
}

impl<T> PerTarget<T> {
    /// The value of `target` on `line`, if there is one.
    pub fn get(&self, line: &str, target: &str) -> Option<&T> {
        let found = self
            .entries
            .iter()
            .find(|(l, t, _)| l == line && t == target);
        found.map(|(_, _, value)| value)
    }

    /// Keeps the entries `keep` says yes to.
    pub fn retain(&mut self, keep: impl Fn(&str, &str) -> bool) {
        self.entries.retain(|(line, target, _)| keep(line, target));
    }

    /// Every entry: line, target, value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &T)> {
        self.entries
            .iter()
            .map(|(l, t, v)| (l.as_str(), t.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_by_line_and_target_and_forgotten_on_request() {
        let mut counts = PerTarget::<u32>::default();
        *counts.entry("main", "192.0.2.1") += 1;
        *counts.entry("main", "192.0.2.1") += 1;
        *counts.entry("backup", "192.0.2.1") += 1;
        assert_eq!(counts.get("main", "192.0.2.1"), Some(&2));
        assert_eq!(counts.get("main", "192.0.2.2"), None);
        counts.retain(|line, _| line == "backup");
        assert_eq!(counts.iter().count(), 1);
    }
}
