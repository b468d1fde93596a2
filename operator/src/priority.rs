//! The priority of the work running now: the queue's runner sets it for each work it starts, and
//! the token buckets read it, so that urgent work takes the next token ahead of bulk work.
//!
//! Owns: the priority classes and the task-local that carries one. Must never: import another
//! module of the crate.

use std::future::Future;

/// Which work goes first: among due keys in the queue, and among callers waiting for a token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Bulk work: the first look at every key, periodic checks.
    #[default]
    Bulk,
    /// A key whose work has begun and asked to run again.
    Started,
    /// A change someone is waiting for.
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Bulk, Priority::Started, Priority::Urgent];

    pub fn index(self) -> usize {
        self as usize
    }
}

tokio::task_local! {
    static CURRENT: Priority;
}

/// The priority of the work this task runs; `Bulk` outside any.
pub fn current() -> Priority {
    CURRENT.try_with(|p| *p).unwrap_or_default()
}

/// Runs `work` at `priority`.
pub async fn scope<F: Future>(priority: Priority, work: F) -> F::Output {
    CURRENT.scope(priority, work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_priority_holds_inside_its_scope_only() {
        assert_eq!(current(), Priority::Bulk);
        let inside = scope(Priority::Urgent, async { current() }).await;
        assert_eq!(inside, Priority::Urgent);
        assert_eq!(current(), Priority::Bulk);
        assert!(Priority::Urgent > Priority::Started && Priority::Started > Priority::Bulk);
    }
}
