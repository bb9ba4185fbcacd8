//! Work split over the cores by hand, where a part's order matters: decoding event files,
//! compressing checkpoints, rendering payslips.

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

/// Runs `work` on every item, on every core, each thread taking the next item as it finishes
/// one (items of uneven cost keep every core busy to the end), and returns the results in the
/// items' order.
pub fn map_each<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = map_in_order(0..cores().min(items.len()), |_| {
        let mut out = Vec::new();
        loop {
            let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                return out;
            };
            out.push((index, work(item)));
        }
    })
    .into_iter()
    .flatten()
    .collect();
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
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
    fn each_result_keeps_its_items_place() {
        let items: Vec<u64> = (0..200).collect();
        let squares = super::map_each(&items, |&n| {
            std::thread::sleep(std::time::Duration::from_micros((n * 7) % 50));
            n * n
        });
        assert_eq!(squares, items.iter().map(|n| n * n).collect::<Vec<_>>());
        assert!(super::map_each(&[] as &[u64], |&n| n).is_empty());
    }
}
