//! Stable sorting of short lists with one shared copy of the sort code.
//!
//! Every `sort`/`sort_by` on a new element type compiles another copy of the standard
//! library's driftsort, about 3.5 KB each: twelve of them were 41 KB of the 2 MB router
//! build. The lists sorted here are short (routes, rules, next hops, hooks, series), so
//! they sort a list of indices through a `dyn` comparator instead: the sort is compiled
//! once, and each element type adds only the small step that puts the items in order.
//! Large inputs (set files with 100,000 prefixes) keep the standard sort.

use std::cmp::Ordering;

/// Sorts `items` in ascending order, keeping equal items in their order (as `slice::sort`).
pub fn stable<T: Ord>(items: &mut Vec<T>) {
    stable_by(items, T::cmp);
}

/// Sorts `items` by the key `key` returns, keeping equal items in their order.
pub fn stable_by_key<T, K: Ord>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    stable_by(items, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `items` by `compare`, keeping equal items in their order (as `slice::sort_by`).
pub fn stable_by<T>(items: &mut Vec<T>, compare: impl Fn(&T, &T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    sort_indices(&mut order, &|a, b| compare(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// The one instance of the standard sort: indices compared through the caller's closure.
fn sort_indices(order: &mut [usize], compare: &dyn Fn(usize, usize) -> Ordering) {
    order.sort_by(|&a, &b| compare(a, b));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_ascending_like_the_standard_sort() {
        let mut ours = vec![5, 3, 9, 1, 3, 0, 7, 7, 2];
        let mut theirs = ours.clone();
        stable(&mut ours);
        theirs.sort();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn keeps_equal_items_in_their_order() {
        let mut items = vec![(2, 'a'), (1, 'b'), (2, 'c'), (1, 'd'), (0, 'e')];
        stable_by_key(&mut items, |&(k, _)| k);
        assert_eq!(items, [(0, 'e'), (1, 'b'), (1, 'd'), (2, 'a'), (2, 'c')]);
    }

    #[test]
    fn sorts_by_a_comparator_and_handles_short_lists() {
        let mut down = vec!["b".to_owned(), "c".to_owned(), "a".to_owned()];
        stable_by(&mut down, |a, b| b.cmp(a));
        assert_eq!(down, ["c", "b", "a"]);
        let mut empty: Vec<u8> = Vec::new();
        stable(&mut empty);
        assert!(empty.is_empty());
        let mut one = vec![1];
        stable(&mut one);
        assert_eq!(one, [1]);
    }

    #[test]
    fn matches_the_standard_sort_on_many_orders() {
        // A fixed pseudo-random sequence: every permutation class of duplicates and runs.
        let mut seed = 0x2545_f491_u32;
        for len in 0..64 {
            let mut items: Vec<(u8, usize)> = (0..len)
                .map(|i| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    ((seed % 7) as u8, i)
                })
                .collect();
            let mut theirs = items.clone();
            stable_by_key(&mut items, |&(k, _)| k);
            theirs.sort_by_key(|&(k, _)| k);
            assert_eq!(items, theirs, "len {len}");
        }
    }
}
