//! Mapping independent items on a few threads, keeping their order: CSV
//! chunks, column statistics, parts of the digest's tree.
//!
//! Each thread takes the next item not yet taken, so callers that put the
//! largest items first get them started first. This module knows nothing
//! about what the items are.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The threads worth using: one per core.
pub(crate) fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `map` of every item, in the items' order, on up to `n_threads` threads.
/// An item's result is `None` only when the thread that took it panicked
/// (a bug); each caller says what that means for it.
pub(crate) fn map_in_order<T: Send, R: Send>(
    items: Vec<T>,
    n_threads: usize,
    map: impl Fn(T) -> R + Sync,
) -> Vec<Option<R>> {
    let n_threads = n_threads.min(items.len());
    if n_threads <= 1 {
        return items.into_iter().map(|item| Some(map(item))).collect();
    }
    let n_items = items.len();
    let items: Vec<Mutex<Option<T>>> = items
        .into_iter()
        .map(|item| Mutex::new(Some(item)))
        .collect();
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = (0..n_items).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..n_threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else {
                            break done;
                        };
                        let item = item.lock().ok().and_then(|mut item| item.take());
                        if let Some(item) = item {
                            done.push((index, map(item)));
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            for (index, result) in worker.join().unwrap_or_default() {
                results[index] = Some(result);
            }
        }
    });
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_on_any_number_of_threads() {
        let items: Vec<u64> = (0..1000).collect();
        let expected: Vec<Option<u64>> = items.iter().map(|item| Some(item * item)).collect();
        for n_threads in [0, 1, 2, 3, 8] {
            assert_eq!(
                map_in_order(items.clone(), n_threads, |item| item * item),
                expected,
                "{n_threads} threads"
            );
        }
        assert!(map_in_order(Vec::<u64>::new(), 4, |item| item).is_empty());
    }
}
