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
}
