//! Group commit: many webhook requests share one flush of the sled log.
//!
//! A request inserts its delivery, then waits here. The committer takes every waiter
//! queued so far, notes the highest inserted sequence, flushes once and answers them
//! all; requests that queue during that flush share the next one. Throughput grows
//! with concurrency instead of being capped at one fsync per request.

use super::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};

type Waiter = oneshot::Sender<Result<(), String>>;

#[derive(Clone)]
pub struct GroupCommit {
    waiters: mpsc::UnboundedSender<Waiter>,
}

impl GroupCommit {
    /// Starts the committer on the current tokio runtime.
    pub fn spawn(store: Store) -> GroupCommit {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Waiter>();
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while let Ok(next) = receiver.try_recv() {
                    batch.push(next);
                }
                // Every waiter above inserted before queueing, so everything up to
                // this sequence is in the tree before the flush starts.
                let covered = store.last_seq();
                let flushing = store.clone();
                let result = match tokio::task::spawn_blocking(move || flushing.flush()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(error) => Err(error.to_string()),
                };
                if result.is_ok() {
                    store.mark_durable(covered);
                }
                for waiter in batch {
                    let _ = waiter.send(result.clone());
                }
            }
        });
        GroupCommit { waiters: sender }
    }

    /// Returns once a flush that started after this call has completed.
    pub async fn wait_durable(&self) -> Result<(), StoreError> {
        let (sender, receiver) = oneshot::channel();
        self.waiters
            .send(sender)
            .map_err(|_| StoreError::NotDurable("committer stopped".into()))?;
        match receiver.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(StoreError::NotDurable(error)),
            Err(_) => Err(StoreError::NotDurable("committer stopped".into())),
        }
    }
}
