//! (1) Sustained ingest and apply: for each workload, the highest rate at which the
//! backlog stays flat, held for a while, beside what a bare actix server acknowledges
//! of the same requests and what raw sled writes in the same time.

use crate::drive::{closed_loop, open_loop, Schedule, Workload, WORKLOADS};
use crate::served::{self, drain, metric, wait_healthy};
use std::time::{Duration, Instant};

pub struct Sustained {
    pub workload: Workload,
    /// Events per second the bare server acknowledged, closed loop.
    pub bare: f64,
    /// Events per second attentiond's front door acknowledged, closed loop, and how
    /// many it applied in the same seconds.
    pub front_door: (f64, f64),
    /// Events per second offered and acknowledged over the held run.
    pub acked: f64,
    /// Events per second applied over the held run.
    pub applied: f64,
    /// Pending deliveries at the start and end of the held run.
    pub backlog: (f64, f64),
    pub seconds: f64,
}

async fn applied(client: &reqwest::Client, daemon: &served::Served) -> f64 {
    metric(client, daemon, "attentiond_touches_total").await
        + metric(client, daemon, "attentiond_duplicate_events_total").await
}

/// Raw sled: records of a touch's size put in batches of 256 deliveries' worth, each
/// in a transaction over two trees and flushed now and then, as rounds are; records
/// per second.
pub fn raw_sled(seconds: f64) -> f64 {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = sled::open(dir.path()).expect("sled opens");
    let (touches, contacts) = (
        db.open_tree("touches").expect("tree"),
        db.open_tree("contacts").expect("tree"),
    );
    let value = vec![7u8; 160];
    let started = Instant::now();
    let mut written = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        let mut batch_touches = sled::Batch::default();
        let mut batch_contacts = sled::Batch::default();
        for i in 0..256u64 {
            let n = written + i;
            batch_touches.insert(&n.to_be_bytes(), value.as_slice());
            batch_contacts.insert(&(n % 100_000).to_be_bytes(), value.as_slice());
        }
        use sled::Transactional;
        (&touches, &contacts)
            .transaction(|(t, c)| {
                t.apply_batch(&batch_touches)?;
                c.apply_batch(&batch_contacts)?;
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .expect("transaction");
        written += 256;
        if written.is_multiple_of(256 * 16) {
            db.flush().expect("flush");
        }
    }
    written as f64 / started.elapsed().as_secs_f64()
}

pub async fn run(
    client: &reqwest::Client,
    step: f64,
    hold: f64,
    connections: usize,
) -> Vec<Sustained> {
    let mut results = Vec::new();
    let only = std::env::var("PIPELINE_WORKLOADS").unwrap_or_default();
    for workload in WORKLOADS {
        if !only.is_empty()
            && !only
                .split(',')
                .any(|name| workload.name().starts_with(name.trim()))
        {
            continue;
        }
        let epd = workload.events_per_delivery() as f64;
        let bare = served::bare();
        let reference = closed_loop(client, &bare, workload, 5.0, connections).await;
        bare.stop();
        let bare_events = reference.acked as f64 * epd / reference.elapsed.as_secs_f64();

        let daemon = served::attentiond("");
        wait_healthy(client, &daemon).await;
        // The front door at full tilt: what ingest acknowledges with the pipeline
        // working beside it on the same cores, and what the pipeline applied meanwhile.
        let start_applied = applied(client, &daemon).await;
        let flat_out = closed_loop(client, &daemon, workload, 10.0, connections).await;
        let front_seconds = flat_out.elapsed.as_secs_f64();
        let front_door = (
            flat_out.acked as f64 * epd / front_seconds,
            (applied(client, &daemon).await - start_applied) / front_seconds,
        );
        eprintln!(
            "  {:<24} front door flat out: {:>7.0} events/s acked, {:>7.0} applied meanwhile ({:.2})",
            workload.name(),
            front_door.0,
            front_door.1,
            front_door.1 / front_door.0.max(1e-9)
        );
        drain(client, &daemon, Duration::from_secs(600)).await;
        let mut first = 0u64;
        // Starting below the pace the pipeline kept at full tilt saves the steps (and
        // the long drains) of rates it cannot hold.
        let mut rate = (front_door.1 * 0.8 / epd).max(2.0);
        let mut best = None;
        loop {
            let before_pending = metric(client, &daemon, "attentiond_inbox_pending").await;
            let schedule = Schedule {
                run: 1,
                first,
                rate,
                seconds: step,
            };
            let sent = open_loop(client, &daemon, workload, schedule, connections).await;
            first += sent.acked + sent.deferred + sent.errors;
            let after_pending = metric(client, &daemon, "attentiond_inbox_pending").await;
            let offered = rate * step;
            let grew = after_pending - before_pending;
            // Flat: every delivery taken in the step's time (senders that fall behind
            // their schedule mean the front door could not keep the pace), and the
            // backlog no deeper than a twentieth of the step's work.
            let flat = sent.errors == 0
                && sent.deferred == 0
                && sent.acked as f64 >= 0.97 * offered
                && sent.elapsed.as_secs_f64() <= step * 1.1
                && grew <= (0.05 * offered).max(4.0);
            eprintln!(
                "  {:<24} {:>8.0} events/s offered: acked {:>7} in {:.1} s, backlog {:+.0}{}",
                workload.name(),
                rate * epd,
                sent.acked,
                sent.elapsed.as_secs_f64(),
                grew,
                if flat { "" } else { "  (not flat)" }
            );
            if let Some(error) = &sent.first_error {
                eprintln!("    first error: {error}");
            }
            drain(client, &daemon, Duration::from_secs(300)).await;
            match (flat, best) {
                (true, _) => {
                    best = Some(rate);
                    rate *= 1.25;
                }
                // Not flat before any flat step: the start was too high; halve it
                // until a step holds, down to a delivery a second.
                (false, None) if rate > 1.0 => rate = (rate / 2.0).max(1.0),
                (false, _) => break,
            }
        }
        let rate = best.unwrap_or(rate);
        let start_pending = metric(client, &daemon, "attentiond_inbox_pending").await;
        let start_applied = applied(client, &daemon).await;
        let schedule = Schedule {
            run: 2,
            first: 0,
            rate,
            seconds: hold,
        };
        let sent = open_loop(client, &daemon, workload, schedule, connections).await;
        let seconds = sent.elapsed.as_secs_f64();
        let end_pending = metric(client, &daemon, "attentiond_inbox_pending").await;
        let end_applied = applied(client, &daemon).await;
        daemon.stop();
        results.push(Sustained {
            workload,
            bare: bare_events,
            front_door,
            acked: sent.acked as f64 * epd / seconds,
            applied: (end_applied - start_applied) / seconds,
            backlog: (start_pending, end_pending),
            seconds,
        });
    }
    results
}
