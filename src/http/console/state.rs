//! What the console keeps while the daemon runs: the sessions, and the figures of
//! deliveries and writes, looked at every few seconds.

use super::activity::Activity;
use super::session::Sessions;
use crate::clock::now_millis;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the sinks' counters are read for the overview.
const LOOK_EVERY: Duration = Duration::from_secs(5);

/// What the console keeps while the daemon runs.
pub struct Console {
    pub sessions: Sessions,
    pub activity: Activity,
}

impl Console {
    /// Starts looking at the sinks every few seconds while the console lives.
    pub fn start(config: &Config, store: Store, metrics: Arc<Metrics>) -> Arc<Console> {
        let console = Arc::new(Console {
            sessions: Sessions::new(config.console.session_hours),
            activity: Activity::load(store),
        });
        let sinks: Vec<String> = config.sinks.keys().cloned().collect();
        let watched: Weak<Console> = Arc::downgrade(&console);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(LOOK_EVERY).await;
                let Some(console) = watched.upgrade() else {
                    return;
                };
                console
                    .activity
                    .look_at_sinks(&metrics, &sinks, now_millis());
            }
        });
        console
    }
}

impl Drop for Console {
    /// The last counts are kept when the daemon stops.
    fn drop(&mut self) {
        self.activity.save_now();
    }
}
