//! The work queue of one propagation controller: keys (`namespace/name`) due at an instant.
//!
//! Contract (v1's delaying deliverer, with client-go's workqueue guarantees):
//! * a key is queued at most once; adding a queued key again only moves it **earlier**;
//! * a key is handed to one worker at a time: a key added while a worker holds it is queued again when that
//!   worker calls [`WorkQueue::done`];
//! * failures back off per key, 5 s doubling to 1 min ([`WorkQueue::backoff`]); [`WorkQueue::forget`] resets.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::Mutex,
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};

/// First retry delay after a failure.
pub const BACKOFF_INITIAL: Duration = Duration::from_secs(5);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    due: BTreeMap<String, Instant>,
    order: BTreeSet<(Instant, String)>,
    active: HashSet<String>,
    again: HashMap<String, Instant>,
    failures: HashMap<String, u32>,
    closed: bool,
}

impl State {
    fn enqueue(&mut self, key: String, at: Instant) {
        if self.active.contains(&key) {
            let entry = self.again.entry(key).or_insert(at);
            *entry = (*entry).min(at);
            return;
        }
        match self.due.get(&key) {
            Some(existing) if *existing <= at => {}
            Some(existing) => {
                self.order.remove(&(*existing, key.clone()));
                self.order.insert((at, key.clone()));
                self.due.insert(key, at);
            }
            None => {
                self.order.insert((at, key.clone()));
                self.due.insert(key, at);
            }
        }
    }
}

/// Keys waiting to be reconciled.
#[derive(Default)]
pub struct WorkQueue {
    state: Mutex<State>,
    wake: Notify,
}

impl WorkQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `key` to be handed out after `delay` (or earlier, if it is already queued earlier).
    pub fn add(&self, key: &str, delay: Duration) {
        let at = Instant::now() + delay;
        self.lock().enqueue(key.to_owned(), at);
        self.wake.notify_waiters();
    }

    /// The next due key, waiting for one; `None` once [`WorkQueue::close`]d.
    pub async fn next(&self) -> Option<String> {
        loop {
            let notified = self.wake.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut state = self.lock();
                if state.closed {
                    return None;
                }
                match state.order.first().cloned() {
                    Some((at, key)) if at <= Instant::now() => {
                        state.order.remove(&(at, key.clone()));
                        state.due.remove(&key);
                        state.active.insert(key.clone());
                        return Some(key);
                    }
                    Some((at, _)) => Some(at),
                    None => None,
                }
            };
            match wait {
                Some(at) => {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// A worker finished `key`; if it was added meanwhile, it is queued again.
    pub fn done(&self, key: &str) {
        let mut state = self.lock();
        state.active.remove(key);
        if let Some(at) = state.again.remove(key) {
            state.enqueue(key.to_owned(), at);
            drop(state);
            self.wake.notify_waiters();
        }
    }

    /// Records a failure of `key` and returns how long to wait before retrying it.
    pub fn backoff(&self, key: &str) -> Duration {
        let mut state = self.lock();
        let failures = state.failures.entry(key.to_owned()).or_insert(0);
        let delay = BACKOFF_INITIAL
            .saturating_mul(2u32.saturating_pow((*failures).min(8)))
            .min(BACKOFF_MAX);
        *failures = failures.saturating_add(1);
        delay
    }

    /// Resets the backoff of `key` after a success.
    pub fn forget(&self, key: &str) {
        let mut state = self.lock();
        if !state.failures.is_empty() {
            state.failures.remove(key);
        }
    }

    /// Keys queued (due or not), not counting those being worked on.
    pub fn len(&self) -> usize {
        self.lock().due.len()
    }

    /// Whether no key is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wakes every waiting worker with `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn keys_are_deduplicated_and_move_only_earlier() {
        let queue = WorkQueue::default();
        queue.add("a", Duration::from_secs(10));
        queue.add("a", Duration::from_secs(20));
        queue.add("b", Duration::from_secs(5));
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.next().await.as_deref(), Some("b"));
        queue.add("a", Duration::from_secs(1));
        let started = Instant::now();
        assert_eq!(queue.next().await.as_deref(), Some("a"));
        assert!(started.elapsed() <= Duration::from_secs(2));
        assert!(queue.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_added_while_active_comes_back_after_done() {
        let queue = WorkQueue::default();
        queue.add("a", Duration::ZERO);
        assert_eq!(queue.next().await.as_deref(), Some("a"));
        queue.add("a", Duration::ZERO);
        assert!(queue.is_empty(), "held by a worker, so not handed out twice");
        queue.done("a");
        assert_eq!(queue.next().await.as_deref(), Some("a"));
        queue.done("a");
        queue.close();
        assert_eq!(queue.next().await, None);
    }

    #[test]
    fn backoff_doubles_to_a_minute_and_resets() {
        let queue = WorkQueue::default();
        let delays: Vec<u64> = (0..6).map(|_| queue.backoff("k").as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
        queue.forget("k");
        assert_eq!(queue.backoff("k").as_secs(), 5);
    }
}
