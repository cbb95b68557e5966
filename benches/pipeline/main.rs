//! Pipeline benchmark: does the pipeline keep up with its front door, how soon does a
//! signal reach the CRM, how many CRM calls does it cost, and what does a contact
//! cost in memory and a touch on disk. One command, one process run, references
//! measured beside it:
//!
//! ```text
//! cargo bench --bench pipeline
//! PIPELINE_SECTIONS=latency cargo bench --bench pipeline      # sustained,latency,footprint
//! PIPELINE_WORKLOADS=Segment,out cargo bench --bench pipeline  # workloads by name
//! PIPELINE_STEP_SECONDS=10 PIPELINE_HOLD_SECONDS=60 PIPELINE_LATENCY_SECONDS=45 \
//!   PIPELINE_FOOTPRINT=100000,1000000 cargo bench --bench pipeline
//! ```
//!
//! 1. Sustained ingest + apply, per workload (a new contact each; ten touches per
//!    contact; touches out of time order; Segment batches of 100): the rate is raised
//!    by a quarter while the backlog stays flat over a step, then the highest flat rate
//!    is held. Beside it: attentiond's front door at full tilt (64 senders, as fast
//!    as answers come) with the pipeline applying beside it on the same cores, a bare
//!    actix server's acknowledgements of the same requests, and raw sled's
//!    transactional writes.
//! 2. Signal → CRM latency percentiles at 200 and 2,000 touches/s over 5,000 contacts.
//! 3. CRM calls per 100 changed contacts, from the same runs.
//! 4. Memory per contact and disk per touch at 100 k and 1 M contacts.

mod drive;
mod footprint;
mod latency;
mod served;
mod sustained;

/// The allocator the binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}=`{text}` is not a valid value")),
        Err(_) => default,
    }
}

fn main() {
    if let Ok(contacts) = std::env::var(footprint::CHILD) {
        footprint::child(contacts.parse().expect("a number of contacts"));
        return;
    }
    let sections: String = env_or(
        "PIPELINE_SECTIONS",
        "sustained,latency,footprint".to_string(),
    );
    let wants = |name: &str| sections.split(',').any(|s| s.trim() == name);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the client runtime");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(128)
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("the HTTP client");

    if wants("sustained") {
        let step: f64 = env_or("PIPELINE_STEP_SECONDS", 10.0);
        let hold: f64 = env_or("PIPELINE_HOLD_SECONDS", 60.0);
        eprintln!("(1) sustained ingest + apply: {step} s steps, then {hold} s held");
        let results = runtime.block_on(sustained::run(&client, step, hold, 64));
        let raw = sustained::raw_sled(5.0);
        println!("\n(1) sustained ingest + apply, the highest rate with a flat backlog, held");
        println!(
            "{:<24} {:>11} {:>11} {:>8} {:>15} {:>11} {:>11} {:>11} {:>10}",
            "workload",
            "acked ev/s",
            "applied",
            "applied/",
            "backlog start",
            "front door",
            "applied",
            "applied/",
            "bare actix"
        );
        println!(
            "{:<24} {:>11} {:>11} {:>8} {:>15} {:>11} {:>11} {:>11} {:>10}",
            "", "held", "ev/s", "acked", "→ end", "flat out", "meanwhile", "acked", "ev/s"
        );
        for result in &results {
            println!(
                "{:<24} {:>11.0} {:>11.0} {:>8.2} {:>6.0} → {:<6.0} {:>11.0} {:>11.0} {:>11.2} {:>10.0}",
                result.workload.name(),
                result.acked,
                result.applied,
                result.applied / result.acked.max(1e-9),
                result.backlog.0,
                result.backlog.1,
                result.front_door.0,
                result.front_door.1,
                result.front_door.1 / result.front_door.0.max(1e-9),
                result.bare,
            );
        }
        println!(
            "front door flat out: attentiond answering as fast as 64 senders get answers for \
             10 s, the pipeline applying beside it; applied/acked is the share it kept up with"
        );
        println!(
            "raw sled reference: {raw:.0} records/s written in transactions of 512 over two trees \
             (attentiond writes at least two records per touch: the touch and its contact)"
        );
        if let Some(held) = results.first() {
            println!("held for {:.0} s each", held.seconds);
        }
    }

    if wants("latency") {
        let seconds: f64 = env_or("PIPELINE_LATENCY_SECONDS", 45.0);
        println!("\n(2) signal → CRM, 5,000 contacts, fake HubSpot at 100 ms a call, 150 requests / 10 s");
        println!(
            "{:>10} {:>8} {:>8} {:>8} {:>9} {:>10} {:>22} {:>16}",
            "touches/s",
            "p50 s",
            "p95 s",
            "p99 s",
            "refused",
            "unwritten",
            "calls / 100 changed",
            "contact writes re-sent"
        );
        for rate in [200.0, 2000.0] {
            let result = runtime.block_on(latency::run(&client, rate, seconds));
            println!(
                "{:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>9} {:>10} {:>22.2} {:>15.0}%",
                result.rate,
                result.p50,
                result.p95,
                result.p99,
                result.refused,
                result.unwritten,
                result.calls_per_100,
                result.resent_share * 100.0,
            );
            for (object, calls, per_call) in &result.by_object {
                println!(
                    "{:>10} {object}: {calls} calls, {per_call:.1} records a call",
                    ""
                );
            }
        }
        println!("(3) calls / 100 changed: CRM calls made ÷ contact writes that carried a new touch × 100");
    }

    if wants("footprint") {
        let sizes: String = env_or("PIPELINE_FOOTPRINT", "100000,1000000".to_string());
        println!(
            "\n(4) memory per contact and disk per touch (raw-body audit copies not included)"
        );
        println!(
            "{:>10} {:>10} {:>12} {:>16} {:>14} {:>18} {:>10}",
            "contacts",
            "touches",
            "RSS MiB",
            "RSS B/contact",
            "disk B/touch",
            "compacted B/touch",
            "load s"
        );
        for size in sizes
            .split(',')
            .filter_map(|s| s.trim().parse::<u64>().ok())
        {
            match footprint::run(size) {
                Some(f) => println!(
                    "{:>10} {:>10} {:>12.0} {:>16.0} {:>14.0} {:>18.0} {:>10.1}",
                    f.contacts,
                    f.touches,
                    f.rss_bytes as f64 / 1048576.0,
                    f.rss_bytes as f64 / f.contacts as f64,
                    f.disk_bytes as f64 / f.touches as f64,
                    f.compacted_bytes as f64 / f.touches as f64,
                    f.seconds
                ),
                None => println!("{size:>10} the footprint run failed"),
            }
        }
    }
}
