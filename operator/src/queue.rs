//! The per-tenant work queue and the runner that drains it.
//!
//! Owns: *when* a reconcile runs (deadlines, dedupe, requeue) and *how many* run at once. It does
//! not decide what a reconcile does, nor how long to back off after an error: the caller's work
//! returns the delay, and this module only honours it.
//!
//! Must never:
//! - run one key twice at once. A key is queued, in flight, or absent, never two of these at once;
//!   a request for an in-flight key is parked on that key and queued only when its ticket is
//!   released;
//! - hold its lock across an `.await`. Every lock is taken and dropped inside a synchronous block;
//!   the only caller code that runs under it is `K`'s `Clone`, `Hash` and `Eq`.
//!
//! # Expected flow
//! Watchers and the resync timer call [`WorkQueue::schedule`]; [`run`] takes due keys with
//! [`WorkQueue::next`], runs the work for each on its own task, and releases the key with
//! [`Ticket::finish`], which queues the key again if the work asked for a requeue or if a request
//! arrived while it ran.
//!
//! # Guarantees
//! - One slot per key: scheduling a queued key again keeps the earliest deadline.
//! - Due keys are handed out highest [`Priority`] first, then earliest deadline, then in the
//!   order they were scheduled. A key is never handed out before its deadline. A requeue (from
//!   [`Ticket::finish`]) is [`Priority::Started`]: work already begun finishes before bulk work
//!   that has not started. [`run`] has, beyond its slots, a quarter as many more (at least one) for
//!   work above [`Priority::Bulk`], so a change or a started work never waits for bulk work.
//! - A request is never lost while the queue is open: a request for an in-flight key runs after
//!   the current run, exactly once however many requests arrived.
//! - A key is never stuck in flight: dropping a [`Ticket`] (including by a panic or an abort of
//!   the task holding it) releases it.
//!
//! # Assumptions
//! - `K`'s `Hash` and `Eq` agree, and its `Clone` is cheap (a tenant id): a key is cloned on
//!   every hand-out.
//!
//! # Caveats
//! - Deadlines are [`tokio::time::Instant`]s, so paused test time applies to the queue.
//! - Closing the queue drops every queued and parked request; it is meant for shutdown, and a
//!   closed queue is never reopened.

use std::cmp::Ordering;
use std::collections::binary_heap::PeekMut;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use crate::priority::Priority;
use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

/// Once the heap holds this many more entries than twice the number of queued keys, it is
/// rebuilt without its stale entries.
const COMPACT_SLACK: usize = 64;

/// A deduplicated work queue with one slot per key.
///
/// A clone-able handle: all clones share one queue. See the [module documentation](self) for
/// the guarantees.
pub struct WorkQueue<K> {
    shared: Arc<Shared<K>>,
}

/// What every handle and every outstanding [`Ticket`] share.
struct Shared<K> {
    /// Never held across an `.await`.
    state: Mutex<State<K>>,
    /// Woken (all waiters) whenever a key may have become due sooner than a waiting
    /// [`WorkQueue::next`] expects (a heap entry was pushed), and on close.
    changed: Notify,
}

/// The queue's bookkeeping.
struct State<K> {
    /// Keys waiting to be handed out, with their merged request. No key here is also in
    /// `in_flight`.
    queued: HashMap<K, Queued>,
    /// Min-heap on (deadline, seq) over the queued keys not yet due, with lazy deletion: an entry
    /// is live iff `queued[key].seq == entry.seq`. Every queued key has exactly one live entry,
    /// here or in `ready`; stale entries are skipped when they reach the top, and dropped in bulk
    /// by [`State::compact`].
    heap: BinaryHeap<HeapEntry<K>>,
    /// The entries whose deadline has passed, by (priority, deadline, seq); same lazy deletion.
    ready: BinaryHeap<ReadyEntry<K>>,
    /// Keys handed out and not yet released, each with the request that arrived while it was in
    /// flight, if any (merged, earliest wins).
    in_flight: HashMap<K, Option<Request>>,
    /// The next sequence number. Strictly increasing, so it both tags heap entries and orders
    /// equal deadlines first scheduled, first out.
    next_seq: u64,
    /// Once set, never cleared. While set, `queued` and `heap` are empty, every value in
    /// `in_flight` is `None`, and new requests are ignored.
    closed: bool,
}

/// One or more merged requests for a key.
#[derive(Clone, Copy, Debug)]
struct Request {
    /// The earliest requested deadline: the key is not handed out before it.
    deadline: Instant,
    /// When the key first became due: the earliest of, for each request, its deadline or the
    /// moment it was made, whichever is later. Never earlier than `deadline`.
    due: Instant,
    priority: Priority,
}

impl Request {
    fn new(deadline: Instant, now: Instant, priority: Priority) -> Self {
        Self {
            deadline,
            due: deadline.max(now),
            priority,
        }
    }

    fn merge(self, other: Self) -> Self {
        Self {
            deadline: self.deadline.min(other.deadline),
            due: self.due.min(other.due),
            priority: self.priority.max(other.priority),
        }
    }

    fn merge_opt(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.merge(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A queued key's slot.
#[derive(Debug)]
struct Queued {
    request: Request,
    /// The `seq` of this key's one live heap entry.
    seq: u64,
}

/// A heap entry, ordered so that [`BinaryHeap`] (a max-heap) pops the earliest deadline first
/// and, among equal deadlines, the lowest `seq`.
struct HeapEntry<K> {
    deadline: Instant,
    seq: u64,
    key: K,
}

impl<K> PartialEq for HeapEntry<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K> Eq for HeapEntry<K> {}

impl<K> PartialOrd for HeapEntry<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for HeapEntry<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// A due heap entry, ordered so that [`BinaryHeap`] pops the highest priority first, then the
/// earliest deadline, then the lowest `seq`.
struct ReadyEntry<K> {
    priority: Priority,
    entry: HeapEntry<K>,
}

impl<K> PartialEq for ReadyEntry<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K> Eq for ReadyEntry<K> {}

impl<K> PartialOrd for ReadyEntry<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for ReadyEntry<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| self.entry.cmp(&other.entry))
    }
}

/// What [`State::pop_due`] found.
enum Pop<K> {
    /// This key was due; it is now in flight.
    Due(K, Request),
    /// Nothing is due yet; the earliest queued deadline is this.
    NotBefore(Instant),
    /// Nothing is queued.
    Empty,
}

impl<K: Clone + Eq + Hash> State<K> {
    fn new() -> Self {
        Self {
            queued: HashMap::new(),
            heap: BinaryHeap::new(),
            ready: BinaryHeap::new(),
            in_flight: HashMap::new(),
            next_seq: 0,
            closed: false,
        }
    }

    /// Records a request: parks it on the key if the key is in flight, queues it otherwise.
    /// Returns whether the heap changed (so that waiting consumers must look again).
    fn request(&mut self, key: K, request: Request) -> bool {
        if self.closed {
            return false;
        }
        if let Some(parked) = self.in_flight.get_mut(&key) {
            *parked = Request::merge_opt(*parked, Some(request));
            return false;
        }
        self.enqueue(key, request)
    }

    /// Queues a key that is not in flight, earliest deadline wins. Returns whether the heap
    /// changed.
    fn enqueue(&mut self, key: K, request: Request) -> bool {
        let seq = self.next_seq;
        let pushed = match self.queued.entry(key) {
            Entry::Occupied(mut occupied) => {
                let old = occupied.get().request;
                let merged = old.merge(request);
                let moved = merged.deadline < old.deadline || merged.priority > old.priority;
                let heap_key = moved.then(|| occupied.key().clone());
                let slot = occupied.get_mut();
                slot.request = merged;
                if let Some(key) = heap_key {
                    // The old entry goes stale: its seq no longer matches.
                    slot.seq = seq;
                    self.heap.push(HeapEntry {
                        deadline: merged.deadline,
                        seq,
                        key,
                    });
                }
                moved
            }
            Entry::Vacant(slot) => {
                self.heap.push(HeapEntry {
                    deadline: request.deadline,
                    seq,
                    key: slot.key().clone(),
                });
                slot.insert(Queued { request, seq });
                true
            }
        };
        if pushed {
            self.next_seq += 1;
            self.compact();
        }
        pushed
    }

    /// Drops stale heap entries once they outnumber the live ones by the slack, so the heap stays
    /// O(queued keys) however often deadlines are brought forward.
    fn compact(&mut self) {
        if self.heap.len() + self.ready.len() <= 2 * self.queued.len() + COMPACT_SLACK {
            return;
        }
        // Every live entry back into `heap`; the next `pop_due` moves the due ones again.
        self.ready.clear();
        self.heap = self
            .queued
            .iter()
            .map(|(key, slot)| HeapEntry {
                deadline: slot.request.deadline,
                seq: slot.seq,
                key: key.clone(),
            })
            .collect();
    }

    /// The priority of a live entry; `None` for a stale one.
    fn live(queued: &HashMap<K, Queued>, entry: &HeapEntry<K>) -> Option<Priority> {
        queued
            .get(&entry.key)
            .filter(|slot| slot.seq == entry.seq)
            .map(|slot| slot.request.priority)
    }

    /// Hands out the due key of the highest priority (then the earliest), marking it in flight;
    /// only one of at least `min`.
    fn pop_due(&mut self, now: Instant, min: Priority) -> Pop<K> {
        // Move every due entry to `ready`, dropping stale ones on the way.
        let mut not_before = None;
        while let Some(top) = self.heap.peek_mut() {
            let Some(priority) = Self::live(&self.queued, &top) else {
                PeekMut::pop(top);
                continue;
            };
            if top.deadline > now {
                not_before = Some(top.deadline);
                break;
            }
            let entry = PeekMut::pop(top);
            self.ready.push(ReadyEntry { priority, entry });
        }
        while let Some(top) = self.ready.peek_mut() {
            if Self::live(&self.queued, &top.entry) != Some(top.priority) {
                PeekMut::pop(top);
                continue;
            }
            if top.priority < min {
                break;
            }
            let top = PeekMut::pop(top);
            let key = top.entry.key;
            let Some(slot) = self.queued.remove(&key) else {
                // Unreachable: `live` checked the slot under the same lock.
                continue;
            };
            self.in_flight.insert(key.clone(), None);
            return Pop::Due(key, slot.request);
        }
        match not_before {
            Some(at) => Pop::NotBefore(at),
            None => Pop::Empty,
        }
    }

    /// Ends the in-flight state of `key` and queues whatever was asked for meanwhile, merged
    /// with the requeue. Returns whether the heap changed.
    fn release(&mut self, key: K, requeue: Option<Request>) -> bool {
        let parked = self.in_flight.remove(&key).flatten();
        match Request::merge_opt(parked, requeue) {
            Some(request) if !self.closed => self.enqueue(key, request),
            _ => false,
        }
    }

    fn close(&mut self) {
        self.closed = true;
        self.queued.clear();
        self.heap.clear();
        self.ready.clear();
        for parked in self.in_flight.values_mut() {
            *parked = None;
        }
    }
}

impl<K> Shared<K> {
    fn lock(&self) -> MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Releases an in-flight key. A trait object so that [`Ticket`] needs no bounds on `K`.
trait Release<K>: Send + Sync {
    fn release(&self, key: K, requeue_after: Option<Duration>);
}

impl<K: Clone + Eq + Hash + Send> Release<K> for Shared<K> {
    fn release(&self, key: K, requeue_after: Option<Duration>) {
        let pushed = {
            let mut state = self.lock();
            let now = Instant::now();
            // A delay too large to represent means "not before the end of time": no requeue.
            let requeue = requeue_after
                .and_then(|delay| now.checked_add(delay))
                .map(|at| Request::new(at, now, Priority::Started));
            state.release(key, requeue)
        };
        if pushed {
            self.changed.notify_waiters();
        }
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    /// An empty, open queue.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new()),
                changed: Notify::new(),
            }),
        }
    }

    /// Asks for `key` to be processed at or after `at`.
    ///
    /// If the key is already queued, the earliest deadline wins: a later deadline never delays
    /// it. If the key is in flight, the request is remembered and the key is queued again (at the
    /// earliest deadline requested meanwhile) when its ticket is released; it is never handed out
    /// twice at once. Ignored once the queue is closed.
    pub fn schedule(&self, key: K, at: Instant) {
        self.schedule_with(key, at, Priority::Bulk);
    }

    /// [`schedule`](Self::schedule) at `priority`: among due keys, a higher priority goes first;
    /// a queued key keeps the highest priority asked for.
    pub fn schedule_with(&self, key: K, at: Instant, priority: Priority) {
        let pushed = {
            let mut state = self.shared.lock();
            let request = Request::new(at, Instant::now(), priority);
            state.request(key, request)
        };
        if pushed {
            self.shared.changed.notify_waiters();
        }
    }

    /// [`schedule`](Self::schedule) with a deadline of now.
    pub fn schedule_now(&self, key: K) {
        self.schedule(key, Instant::now());
    }

    /// Queues `key` now at `priority` only if it is neither queued nor in flight (a periodic
    /// look that must not add a run, bring a backoff forward, or park behind a run). Returns
    /// whether it was queued.
    pub fn schedule_if_idle(&self, key: K, priority: Priority) -> bool {
        let pushed = {
            let mut state = self.shared.lock();
            if state.queued.contains_key(&key) || state.in_flight.contains_key(&key) {
                return false;
            }
            let now = Instant::now();
            state.request(key, Request::new(now, now, priority))
        };
        if pushed {
            self.shared.changed.notify_waiters();
        }
        pushed
    }

    /// Waits for the next key whose deadline has passed and which is not in flight, and marks it
    /// in flight until the returned [`Ticket`] is finished or dropped.
    ///
    /// Several consumers may wait at once; each key goes to one of them. Returns `None` once the
    /// queue is closed, even if keys were due. Cancel-safe: a key is marked in flight only in the
    /// same poll that returns its ticket.
    pub async fn next(&self) -> Option<Ticket<K>> {
        self.next_from(Priority::Bulk).await
    }

    /// [`next`](Self::next), handing out only a key queued at `min` or above.
    pub async fn next_from(&self, min: Priority) -> Option<Ticket<K>> {
        loop {
            // Created before looking: `notify_waiters` reaches a `Notified` from its creation,
            // so a change made between the look and the wait is not missed.
            let changed = self.shared.changed.notified();

            let wake_at = {
                let mut state = self.shared.lock();
                if state.closed {
                    return None;
                }
                let now = Instant::now();
                match state.pop_due(now, min) {
                    Pop::Due(key, request) => {
                        return Some(Ticket {
                            key: key.clone(),
                            waited: now.saturating_duration_since(request.due),
                            priority: request.priority,
                            release: Some((key, Arc::clone(&self.shared) as Arc<dyn Release<K>>)),
                        });
                    }
                    Pop::NotBefore(at) => Some(at),
                    Pop::Empty => None,
                }
            };

            match wake_at {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Closes the queue: [`next`](Self::next) returns `None` from now on (waiting calls wake up),
    /// queued and parked requests are dropped, and new requests are ignored. Tickets already
    /// handed out stay valid; releasing them queues nothing.
    pub fn close(&self) {
        self.shared.lock().close();
        self.shared.changed.notify_waiters();
    }

    /// Whether [`close`](Self::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// The number of queued keys, due or not. Keys in flight are not counted, even with a
    /// request parked on them.
    pub fn depth(&self) -> usize {
        self.shared.lock().queued.len()
    }

    /// The number of keys handed out whose tickets have not been released.
    pub fn in_flight(&self) -> usize {
        self.shared.lock().in_flight.len()
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K> fmt::Debug for WorkQueue<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("WorkQueue")
            .field("depth", &state.queued.len())
            .field("in_flight", &state.in_flight.len())
            .field("closed", &state.closed)
            .finish()
    }
}

/// A key handed out by [`WorkQueue::next`], held in flight until this ticket is finished or
/// dropped.
pub struct Ticket<K> {
    /// The key to process.
    pub key: K,
    /// How long the key waited in the queue: from the moment it became due (its deadline, or
    /// when it was scheduled if that was later) to when it was handed out. Includes any time it
    /// spent waiting for an earlier run of the same key to finish.
    pub waited: Duration,
    /// The highest priority among the requests merged into this run.
    pub priority: Priority,
    /// The key this ticket holds in flight and the queue to release it to. Kept apart from the
    /// public `key`, so that editing `key` cannot release the wrong slot. `None` once released.
    release: Option<(K, Arc<dyn Release<K>>)>,
}

impl<K> Ticket<K> {
    /// Ends the in-flight state. With `requeue_after`, the key is scheduled again after that
    /// delay, earliest wins with any request that arrived while it was in flight.
    pub fn finish(mut self, requeue_after: Option<Duration>) {
        self.release(requeue_after);
    }

    fn release(&mut self, requeue_after: Option<Duration>) {
        if let Some((key, queue)) = self.release.take() {
            queue.release(key, requeue_after);
        }
    }
}

impl<K> Drop for Ticket<K> {
    /// Releases the key without a requeue (a request parked meanwhile is still queued).
    fn drop(&mut self) {
        self.release(None);
    }
}

impl<K: fmt::Debug> fmt::Debug for Ticket<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("key", &self.key)
            .field("waited", &self.waited)
            .finish_non_exhaustive()
    }
}

/// How the works started by one [`run`] ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Keys taken from the queue (works started).
    pub started: u64,
    /// Works that returned.
    pub completed: u64,
    /// Works that panicked. Their key was released without a requeue; the next resync or event
    /// schedules it again.
    pub panicked: u64,
    /// Works still running when the grace period ran out, and aborted. Their key was released
    /// without a requeue.
    pub abandoned: u64,
}

impl RunSummary {
    fn record(&mut self, result: Result<(), JoinError>) {
        match result {
            Ok(()) => self.completed += 1,
            Err(e) if e.is_panic() => self.panicked += 1,
            Err(_) => self.abandoned += 1,
        }
    }
}

/// Runs `work` for each key handed out by `queue`, at most `concurrency` at once, until
/// `shutdown` resolves or the queue is closed.
///
/// Each work runs on its own task and is called with the key and how long it waited in the queue
/// ([`Ticket::waited`]). It returns `Some(delay)` to have its key scheduled again after `delay`
/// (earliest wins with any request that arrived meanwhile), or `None`.
///
/// # Expected flow
/// 1. Wait for a free slot (a semaphore permit), then for a due key; spawn the work. When every
///    slot is taken, a reserve slot takes a due key above [`Priority::Bulk`].
/// 2. When `shutdown` resolves or the queue is closed: take no more keys; wait up to `grace` for
///    the works in flight; abort the rest and wait for the aborts to land; return.
///
/// # Guarantees
/// - At most `concurrency` works run at once (`0` is taken as `1`), and a quarter as many more
///   (at least one) of work above [`Priority::Bulk`]: bulk works that wait on a token bucket
///   never keep a change, or a tenant already started, from starting.
/// - Never two works for one key at once (the queue's guarantee).
/// - When this returns, none of its works is still running, and every key it took has been
///   released.
///
/// # Caveats
/// - A work that panics is counted in [`RunSummary::panicked`]; the runner carries on. Its key
///   is not requeued.
/// - Shutdown does not close the queue: keys still queued stay there for the caller to close or
///   hand to another runner.
/// - Abandoned works are cancelled at their next `.await`; a work that blocks its thread delays
///   the return.
pub async fn run<K, F, Fut>(
    queue: WorkQueue<K>,
    concurrency: usize,
    work: F,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> RunSummary
where
    K: Clone + Eq + Hash + Send + 'static,
    F: Fn(K, Duration) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Duration>> + Send + 'static,
{
    let concurrency = concurrency.max(1);
    let slots = Arc::new(Semaphore::new(concurrency));
    let reserve = Arc::new(Semaphore::new(concurrency.div_ceil(4)));
    let work = Arc::new(work);
    let mut tasks = JoinSet::new();
    let mut summary = RunSummary::default();
    tokio::pin!(shutdown);

    loop {
        // Reap finished works, so the set stays as small as the number running.
        while let Some(result) = tasks.try_join_next() {
            summary.record(result);
        }
        // Both wait at once; the one that does not win drops its permit.
        let taken = tokio::select! {
            biased;
            () = &mut shutdown => break,
            taken = take(&slots, &queue, Priority::Bulk) => taken,
            taken = take(&reserve, &queue, Priority::Started) => taken,
        };
        let Some((permit, ticket)) = taken else { break };
        summary.started += 1;
        let work = Arc::clone(&work);
        tasks.spawn(async move {
            // The work runs at its key's priority, which the token buckets honour.
            let requeue_after =
                crate::priority::scope(ticket.priority, work(ticket.key.clone(), ticket.waited))
                    .await;
            ticket.finish(requeue_after);
            drop(permit);
        });
    }

    let drained = tokio::time::timeout(grace, async {
        while let Some(result) = tasks.join_next().await {
            summary.record(result);
        }
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
        while let Some(result) = tasks.join_next().await {
            summary.record(result);
        }
    }
    summary
}

/// A permit of `slots`, then a due key of at least `min`; `None` once the queue is closed.
async fn take<K: Clone + Eq + Hash + Send + 'static>(
    slots: &Arc<Semaphore>,
    queue: &WorkQueue<K>,
    min: Priority,
) -> Option<(tokio::sync::OwnedSemaphorePermit, Ticket<K>)> {
    // The semaphore is never closed.
    let permit = Arc::clone(slots).acquire_owned().await.ok()?;
    let ticket = queue.next_from(min).await?;
    Some((permit, ticket))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::pin::pin;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering as AtomicOrdering};
    use std::task::{Context, Poll, Waker};
    use tokio::time::{advance, sleep};

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// Polls a future once; `None` if it is not ready.
    fn now_or_never<T>(future: impl Future<Output = T>) -> Option<T> {
        let mut future = pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(value) => Some(value),
            Poll::Pending => None,
        }
    }

    /// The ticket `next()` hands out right now; panics if none is due.
    fn take_due<K: Clone + Eq + Hash + Send + 'static>(queue: &WorkQueue<K>) -> Ticket<K> {
        now_or_never(queue.next())
            .expect("a key should be due now")
            .expect("the queue should be open")
    }

    fn nothing_due<K: Clone + Eq + Hash + Send + 'static>(queue: &WorkQueue<K>) -> bool {
        now_or_never(queue.next()).is_none()
    }

    #[tokio::test(start_paused = true)]
    async fn dedupe_keeps_the_earlier_deadline() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule("a", start + secs(3));
        queue.schedule("a", start + secs(1));
        assert_eq!(queue.depth(), 1);
        advance(secs(1)).await;
        take_due(&queue).finish(None);
        advance(secs(10)).await;
        assert!(
            nothing_due(&queue),
            "the 3s request was merged into the 1s one"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn scheduling_a_later_deadline_for_a_queued_key_does_not_delay_it() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule("a", start + secs(1));
        queue.schedule("a", start + secs(3));
        assert_eq!(queue.depth(), 1);
        advance(secs(1)).await;
        take_due(&queue).finish(None);
        advance(secs(10)).await;
        assert!(
            nothing_due(&queue),
            "the 3s request was merged into the 1s one"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn items_come_out_in_deadline_order_and_ties_in_scheduling_order() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule("c", start + secs(3));
        queue.schedule("a", start + secs(1));
        queue.schedule("b", start + secs(2));
        queue.schedule("d", start + secs(2));
        let mut order = Vec::new();
        for _ in 0..4 {
            let ticket = queue.next().await.expect("open");
            order.push((ticket.key, start.elapsed().as_secs()));
        }
        assert_eq!(order, [("a", 1), ("b", 2), ("d", 2), ("c", 3)]);
    }

    #[tokio::test(start_paused = true)]
    async fn among_due_keys_the_higher_priority_goes_first() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule("bulk-1", start);
        queue.schedule("bulk-2", start);
        queue.schedule_with("urgent", start + secs(1), Priority::Urgent);
        queue.schedule_with("started", start, Priority::Started);
        // Not due yet, the urgent key waits for its deadline.
        assert_eq!(take_due(&queue).key, "started");
        advance(secs(1)).await;
        let order: Vec<&str> = (0..3).map(|_| take_due(&queue).key).collect();
        assert_eq!(order, ["urgent", "bulk-1", "bulk-2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_requeued_key_goes_ahead_of_bulk_keys_that_have_not_started() {
        let queue = WorkQueue::new();
        queue.schedule_now("a");
        for k in ["b", "c", "d"] {
            queue.schedule_now(k);
        }
        take_due(&queue).finish(Some(secs(1)));
        advance(secs(1)).await;
        assert_eq!(
            take_due(&queue).key,
            "a",
            "its second pass before b, c and d's first"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_higher_priority_for_a_queued_key_moves_it_up_and_never_later() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule("a", start);
        queue.schedule("b", start);
        queue.schedule_with("b", start + secs(30), Priority::Urgent);
        assert_eq!(
            take_due(&queue).key,
            "b",
            "the earlier deadline kept, the priority raised"
        );
        assert_eq!(take_due(&queue).key, "a");
    }

    #[tokio::test(start_paused = true)]
    async fn schedule_if_idle_neither_parks_nor_brings_a_backoff_forward() {
        let queue = WorkQueue::new();
        queue.schedule_now("running");
        let ticket = take_due(&queue);
        assert!(!queue.schedule_if_idle("running", Priority::Bulk));
        ticket.finish(None);
        assert!(
            nothing_due(&queue),
            "no run was parked on the one in flight"
        );
        queue.schedule("backing-off", Instant::now() + secs(60));
        assert!(!queue.schedule_if_idle("backing-off", Priority::Bulk));
        assert!(nothing_due(&queue), "the backoff holds");
        assert_eq!(queue.depth(), 1, "still queued at its own deadline");
        assert!(queue.schedule_if_idle("idle", Priority::Bulk));
        assert_eq!(take_due(&queue).key, "idle");
    }

    #[tokio::test(start_paused = true)]
    async fn an_item_is_not_handed_out_before_its_deadline() {
        let queue = WorkQueue::new();
        queue.schedule("a", Instant::now() + secs(5));
        assert!(nothing_due(&queue));
        advance(secs(5) - Duration::from_millis(1)).await;
        assert!(nothing_due(&queue));
        advance(Duration::from_millis(1)).await;
        assert_eq!(take_due(&queue).key, "a");
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_scheduled_while_in_flight_is_handed_out_again_only_after_its_ticket_finishes_exactly_once(
    ) {
        let queue = WorkQueue::new();
        queue.schedule_now("a");
        let ticket = take_due(&queue);
        for _ in 0..3 {
            queue.schedule_now("a");
        }
        assert_eq!((queue.depth(), queue.in_flight()), (0, 1));
        advance(secs(10)).await;
        assert!(nothing_due(&queue), "never handed out twice at once");

        ticket.finish(None);
        assert_eq!((queue.depth(), queue.in_flight()), (1, 0));
        let again = take_due(&queue);
        assert_eq!(again.key, "a");
        again.finish(None);
        advance(secs(3600)).await;
        assert!(
            nothing_due(&queue),
            "three requests made while in flight run once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_parked_on_an_in_flight_key_keeps_the_earliest_deadline() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule_now("a");
        let ticket = take_due(&queue);
        queue.schedule("a", start + secs(5));
        queue.schedule("a", start + secs(2));
        ticket.finish(None);
        advance(secs(2) - Duration::from_millis(1)).await;
        assert!(nothing_due(&queue));
        advance(Duration::from_millis(1)).await;
        take_due(&queue).finish(None);
        advance(secs(10)).await;
        assert!(nothing_due(&queue));
    }

    #[tokio::test(start_paused = true)]
    async fn an_in_flight_key_does_not_block_other_due_keys() {
        let queue = WorkQueue::new();
        queue.schedule_now("a");
        let _a = take_due(&queue);
        queue.schedule_now("a");
        queue.schedule_now("b");
        assert_eq!(take_due(&queue).key, "b");
    }

    #[tokio::test(start_paused = true)]
    async fn requeue_after_schedules_the_key_again_after_the_delay() {
        let queue = WorkQueue::new();
        queue.schedule_now("a");
        take_due(&queue).finish(Some(secs(30)));
        assert_eq!(queue.depth(), 1);
        advance(secs(30) - Duration::from_millis(1)).await;
        assert!(nothing_due(&queue));
        advance(Duration::from_millis(1)).await;
        assert_eq!(take_due(&queue).key, "a");
    }

    #[tokio::test(start_paused = true)]
    async fn requeue_after_and_a_parked_request_merge_and_the_earliest_wins() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule_now("a");
        let ticket = take_due(&queue);
        queue.schedule("a", start + secs(10));
        ticket.finish(Some(secs(30)));
        advance(secs(10)).await;
        take_due(&queue).finish(None);
        advance(secs(60)).await;
        assert!(
            nothing_due(&queue),
            "the 30s requeue was merged into the 10s request"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_ticket_releases_its_key_and_queues_a_parked_request() {
        let queue = WorkQueue::new();
        queue.schedule_now("a");
        let ticket = take_due(&queue);
        queue.schedule_now("a");
        drop(ticket);
        assert_eq!(queue.in_flight(), 0);
        let again = take_due(&queue);
        drop(again);
        assert_eq!((queue.depth(), queue.in_flight()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn editing_a_tickets_public_key_does_not_release_another_key() {
        let queue = WorkQueue::new();
        queue.schedule_now("a");
        queue.schedule_now("b");
        let mut a = take_due(&queue);
        let _b = take_due(&queue);
        a.key = "b";
        a.finish(None);
        queue.schedule_now("b");
        assert!(nothing_due(&queue), "b is still in flight");
    }

    #[tokio::test(start_paused = true)]
    async fn next_wakes_when_an_earlier_key_is_scheduled() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule("late", start + secs(60));
        let consumer = tokio::spawn({
            let queue = queue.clone();
            async move {
                let ticket = queue.next().await.expect("open");
                (ticket.key, start.elapsed())
            }
        });
        sleep(secs(1)).await;
        queue.schedule_now("early");
        let (key, at) = consumer.await.expect("consumer task");
        assert_eq!((key, at), ("early", secs(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn next_wakes_when_a_requeue_is_earlier_than_anything_queued() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule_now("a");
        queue.schedule("late", start + secs(60));
        let ticket = take_due(&queue);
        let consumer = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await.map(|t| (t.key, start.elapsed())) }
        });
        sleep(secs(1)).await;
        ticket.finish(Some(secs(1)));
        let got = consumer.await.expect("consumer task");
        assert_eq!(got, Some(("a", secs(2))));
    }

    #[tokio::test(start_paused = true)]
    async fn close_makes_next_return_none() {
        let queue = WorkQueue::new();
        queue.schedule_now("a");
        queue.close();
        assert!(queue.is_closed());
        assert!(queue.next().await.is_none());
        assert_eq!(queue.depth(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn close_wakes_a_waiting_next() {
        let queue: WorkQueue<&str> = WorkQueue::new();
        let consumer = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await.map(|t| t.key) }
        });
        sleep(secs(1)).await;
        queue.close();
        assert_eq!(consumer.await.expect("consumer task"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn after_close_requests_are_ignored_and_tickets_release_without_requeue() {
        let queue = WorkQueue::new();
        queue.schedule_now("a");
        let ticket = take_due(&queue);
        queue.schedule_now("a");
        queue.close();
        queue.schedule_now("b");
        ticket.finish(Some(secs(1)));
        assert_eq!((queue.depth(), queue.in_flight()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn waited_reports_the_time_from_the_deadline_to_hand_out() {
        let queue = WorkQueue::new();
        queue.schedule("a", Instant::now() + secs(1));
        advance(secs(4)).await;
        assert_eq!(take_due(&queue).waited, secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn waited_counts_from_scheduling_when_the_deadline_had_already_passed() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        advance(secs(10)).await;
        queue.schedule("a", start);
        advance(secs(2)).await;
        assert_eq!(take_due(&queue).waited, secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn waited_is_zero_for_a_consumer_already_waiting() {
        let queue = WorkQueue::new();
        queue.schedule("a", Instant::now() + secs(5));
        let ticket = queue.next().await.expect("open");
        assert_eq!(ticket.waited, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn bringing_a_deadline_forward_many_times_does_not_grow_the_heap() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        for n in (0..10_000).rev() {
            queue.schedule("a", start + Duration::from_millis(1000 + n));
        }
        let heap = {
            let state = queue.shared.lock();
            state.heap.len() + state.ready.len()
        };
        assert!(heap <= 2 + COMPACT_SLACK + 1, "heap holds {heap} entries");
        advance(secs(1)).await;
        take_due(&queue).finish(None);
        advance(secs(20)).await;
        assert!(nothing_due(&queue));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn several_consumers_never_hold_one_key_at_once() {
        let queue = WorkQueue::new();
        let holding = Arc::new(Mutex::new(HashSet::new()));
        let handed_out = Arc::new(AtomicUsize::new(0));
        let mut consumers = JoinSet::new();
        for _ in 0..4 {
            let (queue, holding, handed_out) =
                (queue.clone(), Arc::clone(&holding), Arc::clone(&handed_out));
            consumers.spawn(async move {
                while let Some(ticket) = queue.next().await {
                    let fresh = holding.lock().expect("lock").insert(ticket.key);
                    assert!(fresh, "key {} handed out twice at once", ticket.key);
                    handed_out.fetch_add(1, AtomicOrdering::Relaxed);
                    tokio::task::yield_now().await;
                    holding.lock().expect("lock").remove(&ticket.key);
                    ticket.finish(None);
                }
            });
        }
        for round in 0..2_000_u32 {
            queue.schedule_now(round % 5);
            if round % 16 == 0 {
                tokio::task::yield_now().await;
            }
        }
        while queue.depth() + queue.in_flight() > 0 {
            sleep(Duration::from_millis(1)).await;
        }
        queue.close();
        while let Some(result) = consumers.join_next().await {
            result.expect("a consumer panicked");
        }
        assert!(handed_out.load(AtomicOrdering::Relaxed) >= 5);
    }

    #[tokio::test(start_paused = true)]
    async fn run_never_exceeds_concurrency_and_processes_every_key_once() {
        let queue = WorkQueue::new();
        for key in 0..50_u32 {
            queue.schedule_now(key);
        }
        let running = Arc::new(AtomicUsize::new(0));
        let max_running = Arc::new(AtomicUsize::new(0));
        let processed = Arc::new(Mutex::new(Vec::new()));
        let work = {
            let (running, max_running, processed) = (
                Arc::clone(&running),
                Arc::clone(&max_running),
                Arc::clone(&processed),
            );
            move |key: u32, _waited: Duration| {
                let (running, max_running, processed) = (
                    Arc::clone(&running),
                    Arc::clone(&max_running),
                    Arc::clone(&processed),
                );
                async move {
                    let now = running.fetch_add(1, AtomicOrdering::SeqCst) + 1;
                    max_running.fetch_max(now, AtomicOrdering::SeqCst);
                    sleep(secs(1)).await;
                    running.fetch_sub(1, AtomicOrdering::SeqCst);
                    processed.lock().expect("lock").push(key);
                    None
                }
            }
        };
        let summary = run(queue.clone(), 4, work, sleep(secs(100)), secs(5)).await;

        assert_eq!(max_running.load(AtomicOrdering::SeqCst), 4);
        let mut processed = processed.lock().expect("lock").clone();
        processed.sort_unstable();
        assert_eq!(processed, (0..50).collect::<Vec<_>>());
        assert_eq!(summary.started, 50);
        assert_eq!(summary.completed, 50);
        assert_eq!((queue.depth(), queue.in_flight()), (0, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn run_never_processes_one_key_twice_at_once_under_many_schedules() {
        let queue = WorkQueue::new();
        let holding = Arc::new(Mutex::new(HashSet::new()));
        let twice = Arc::new(AtomicBool::new(false));
        let runs = Arc::new(AtomicUsize::new(0));
        let work = {
            let (holding, twice, runs) =
                (Arc::clone(&holding), Arc::clone(&twice), Arc::clone(&runs));
            move |key: u32, _waited: Duration| {
                let (holding, twice, runs) =
                    (Arc::clone(&holding), Arc::clone(&twice), Arc::clone(&runs));
                async move {
                    if !holding.lock().expect("lock").insert(key) {
                        twice.store(true, AtomicOrdering::SeqCst);
                    }
                    let run = runs.fetch_add(1, AtomicOrdering::SeqCst);
                    for _ in 0..3 {
                        tokio::task::yield_now().await;
                    }
                    holding.lock().expect("lock").remove(&key);
                    // Some works ask to run again soon, racing with the schedulers.
                    (run % 7 == 0).then_some(Duration::from_micros(50))
                }
            }
        };
        let mut schedulers = JoinSet::new();
        for task in 0..4_u32 {
            let queue = queue.clone();
            schedulers.spawn(async move {
                for round in 0..2_000_u32 {
                    queue.schedule_now((task + round) % 6);
                    if round % 8 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            });
        }
        let shutdown = {
            let queue = queue.clone();
            async move {
                while let Some(result) = schedulers.join_next().await {
                    result.expect("a scheduler panicked");
                }
                while queue.depth() + queue.in_flight() > 0 {
                    sleep(Duration::from_millis(1)).await;
                }
            }
        };
        let summary = run(queue.clone(), 16, work, shutdown, secs(5)).await;

        assert!(
            !twice.load(AtomicOrdering::SeqCst),
            "a key ran twice at once"
        );
        assert_eq!(summary.panicked + summary.abandoned, 0);
        assert_eq!(summary.started, summary.completed);
        assert!(runs.load(AtomicOrdering::SeqCst) >= 6);
    }

    #[tokio::test(start_paused = true)]
    async fn run_returns_after_shutdown_and_waits_for_in_flight_work() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule_now("a");
        queue.schedule_now("b");
        queue.schedule("later", start + secs(2));
        let finished = Arc::new(AtomicUsize::new(0));
        let work = {
            let finished = Arc::clone(&finished);
            move |_key: &'static str, _waited: Duration| {
                let finished = Arc::clone(&finished);
                async move {
                    sleep(secs(10)).await;
                    finished.fetch_add(1, AtomicOrdering::SeqCst);
                    None
                }
            }
        };
        let summary = run(queue.clone(), 4, work, sleep(secs(1)), secs(60)).await;

        assert_eq!(start.elapsed(), secs(10));
        assert_eq!(finished.load(AtomicOrdering::SeqCst), 2);
        let expected = RunSummary {
            started: 2,
            completed: 2,
            panicked: 0,
            abandoned: 0,
        };
        assert_eq!(summary, expected);
        assert_eq!(
            (queue.depth(), queue.in_flight()),
            (1, 0),
            "`later` was not taken"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn run_abandons_work_that_exceeds_grace() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule_now("slow");
        queue.schedule_now("quick");
        let finished = Arc::new(AtomicUsize::new(0));
        let work = {
            let finished = Arc::clone(&finished);
            move |key: &'static str, _waited: Duration| {
                let finished = Arc::clone(&finished);
                async move {
                    sleep(if key == "slow" { secs(3600) } else { secs(2) }).await;
                    finished.fetch_add(1, AtomicOrdering::SeqCst);
                    Some(secs(1))
                }
            }
        };
        let summary = run(queue.clone(), 4, work, sleep(secs(1)), secs(5)).await;

        assert_eq!(start.elapsed(), secs(6));
        assert_eq!(finished.load(AtomicOrdering::SeqCst), 1);
        let expected = RunSummary {
            started: 2,
            completed: 1,
            panicked: 0,
            abandoned: 1,
        };
        assert_eq!(summary, expected);
        assert_eq!(queue.in_flight(), 0, "the abandoned key was released");
        assert_eq!(
            queue.depth(),
            1,
            "only the completed work's requeue is queued"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn run_stops_when_the_queue_is_closed() {
        let queue: WorkQueue<&str> = WorkQueue::new();
        let start = Instant::now();
        tokio::spawn({
            let queue = queue.clone();
            async move {
                sleep(secs(2)).await;
                queue.close();
            }
        });
        let summary = run(
            queue,
            1,
            |_key, _waited| async { None },
            std::future::pending(),
            secs(5),
        )
        .await;
        assert_eq!(start.elapsed(), secs(2));
        assert_eq!(summary, RunSummary::default());
    }

    #[tokio::test(start_paused = true)]
    async fn run_requeues_a_key_after_the_delay_its_work_returns() {
        let queue = WorkQueue::new();
        let start = Instant::now();
        queue.schedule_now("a");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let work = {
            let seen = Arc::clone(&seen);
            move |_key: &'static str, _waited: Duration| {
                let seen = Arc::clone(&seen);
                async move {
                    let mut seen = seen.lock().expect("lock");
                    seen.push(start.elapsed());
                    (seen.len() < 3).then_some(secs(10))
                }
            }
        };
        let summary = run(queue, 2, work, sleep(secs(100)), secs(5)).await;
        assert_eq!(*seen.lock().expect("lock"), [secs(0), secs(10), secs(20)]);
        assert_eq!(summary.completed, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn run_survives_a_panicking_work_and_releases_its_key() {
        let queue = WorkQueue::new();
        queue.schedule_now("bad");
        queue.schedule_now("good");
        let work = |key: &'static str, _waited: Duration| async move {
            assert_ne!(key, "bad", "this work panics on purpose");
            None
        };
        let summary = run(queue.clone(), 1, work, sleep(secs(5)), secs(5)).await;
        let expected = RunSummary {
            started: 2,
            completed: 1,
            panicked: 1,
            abandoned: 0,
        };
        assert_eq!(summary, expected);
        assert_eq!((queue.depth(), queue.in_flight()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn run_passes_each_work_the_time_its_key_waited_in_the_queue() {
        let queue = WorkQueue::new();
        queue.schedule_now("first");
        queue.schedule_now("second");
        let waits = Arc::new(Mutex::new(Vec::new()));
        let work = {
            let waits = Arc::clone(&waits);
            move |key: &'static str, waited: Duration| {
                let waits = Arc::clone(&waits);
                async move {
                    waits.lock().expect("lock").push((key, waited));
                    sleep(secs(3)).await;
                    None
                }
            }
        };
        run(queue, 1, work, sleep(secs(10)), secs(5)).await;
        let waits = waits.lock().expect("lock").clone();
        assert_eq!(waits, [("first", secs(0)), ("second", secs(3))]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_starts_while_bulk_works_hold_every_slot() {
        let queue = WorkQueue::new();
        for key in 0..4_u32 {
            queue.schedule_now(key);
        }
        let started = Arc::new(Mutex::new(Vec::new()));
        let work = {
            let started = Arc::clone(&started);
            move |key: u32, _waited: Duration| {
                let started = Arc::clone(&started);
                async move {
                    started.lock().expect("lock").push((key, Instant::now()));
                    // A bulk work waiting on a bucket for a long time.
                    sleep(secs(if key < 100 { 60 } else { 1 })).await;
                    None
                }
            }
        };
        let runner = tokio::spawn(run(queue.clone(), 2, work, sleep(secs(300)), secs(5)));
        sleep(secs(1)).await;
        let t0 = Instant::now();
        queue.schedule_with(100, t0, Priority::Urgent);
        queue.schedule_with(101, t0, Priority::Bulk);
        sleep(secs(2)).await;
        let at = |key: u32| {
            started
                .lock()
                .expect("lock")
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, at)| *at)
        };
        assert_eq!(
            at(100),
            Some(t0),
            "the change took the reserve slot at once"
        );
        assert_eq!(at(101), None, "bulk work waits for a slot of its own");
        assert_eq!(
            at(2),
            None,
            "two slots, and the reserve is not for bulk work"
        );
        runner.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn run_treats_a_concurrency_of_zero_as_one() {
        let queue = WorkQueue::new();
        queue.schedule_now("a");
        let summary = run(
            queue,
            0,
            |_key: &'static str, _waited| async { None },
            sleep(secs(1)),
            secs(1),
        )
        .await;
        assert_eq!(summary.completed, 1);
    }

    #[test]
    fn run_is_a_send_future_that_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let queue: WorkQueue<String> = WorkQueue::new();
        let future = run(queue, 1, |_key, _waited| async { None }, async {}, secs(1));
        assert_send(&future);
    }
}
