//! Work on independent items spread over the machine's cores: parsing documents is the slow part of a
//! first sync on a device and of a report on the relay, and each document parses on its own.

/// `work` applied to every item, on up to as many threads as the machine has cores, in the items' order.
pub fn map<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads < 2 || items.len() < 2 {
        return items.iter().map(work).collect();
    }
    let share = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(share)
            .map(|part| scope.spawn(move || part.iter().map(work).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(done) => done,
                // A panic in `work` is the caller's bug; carry it on as if the work had run here.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    /// Every item comes back in order, however the items are shared out.
    #[test]
    fn results_come_back_in_the_items_order() {
        for n in [0, 1, 2, 3, 17, 100] {
            let items: Vec<u32> = (0..n).collect();
            assert_eq!(
                super::map(&items, |i| i * 2),
                items.iter().map(|i| i * 2).collect::<Vec<_>>()
            );
        }
    }
}
