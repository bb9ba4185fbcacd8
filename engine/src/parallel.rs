//! Work split over the cores by hand, where a part's order matters: decoding event files,
//! compressing checkpoints, encoding results.

/// The cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work` on each part, each in a thread of its own, and returns the results in the
/// parts' order.
pub fn map_in_order<T: Send, R: Send>(parts: impl IntoIterator<Item = T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    let work = &work;
    std::thread::scope(|scope| {
        parts
            .into_iter()
            .map(|part| scope.spawn(move || work(part)))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// Runs `work` on a share of `items` per core, each in a thread of its own, and returns the
/// results in the shares' order (none for no items).
pub fn map_shares<T: Sync, R: Send>(items: &[T], work: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    map_in_order(items.chunks(items.len().div_ceil(cores()).max(1)), work)
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_parts_order() {
        let squares = super::map_in_order(0..50u64, |n| {
            std::thread::sleep(std::time::Duration::from_micros(50 - n));
            n * n
        });
        assert_eq!(squares, (0..50u64).map(|n| n * n).collect::<Vec<_>>());
    }

    #[test]
    fn shares_cover_every_item_once_in_order() {
        let items: Vec<u64> = (0..101).collect();
        let shares = super::map_shares(&items, <[u64]>::to_vec);
        assert!(shares.len() <= super::cores());
        assert_eq!(shares.concat(), items);
        assert!(super::map_shares(&[] as &[u64], <[u64]>::len).is_empty());
    }
}
