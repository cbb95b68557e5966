//! `attentiond compact`: the store written again with only what is live, with the
//! daemon stopped. See docs/operations.md, "Disk use".

use crate::config::Config;
use crate::store::compact::{compact_telling, Progress};
use crate::store::StoreError;
use anyhow::anyhow;
use std::process::ExitCode;

pub fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let path = &config.store.path;
    if !path.exists() {
        return Err(anyhow!("there is no store at {}", path.display()));
    }
    let started = std::time::Instant::now();
    // A million people take minutes: say how far it got.
    let told = |progress: Progress| match progress {
        Progress::Begun { bytes } => eprintln!(
            "compacting the store at {} ({} MiB); the copy is written beside it",
            path.display(),
            bytes >> 20
        ),
        Progress::Copied {
            tree,
            entries,
            bytes,
        } if entries > 0 => eprintln!(
            "  {:>7.1} s  copied and checked {tree} ({entries} keys, {:.1} MiB with their values)",
            started.elapsed().as_secs_f64(),
            bytes as f64 / 1_048_576.0
        ),
        Progress::Copied { .. } => {}
    };
    match compact_telling(path, told) {
        Ok(done) => {
            println!(
                "compacted the store at {}: {} MiB before, {} MiB after, {} keys",
                path.display(),
                done.before >> 20,
                done.after >> 20,
                done.entries
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(StoreError::Locked(_)) => Err(anyhow!(
            "the daemon holds the store at {}: stop it (e.g. `systemctl stop attentiond`), run `attentiond compact`, then start it again",
            path.display()
        )),
        Err(error) => Err(anyhow!(error).context(format!(
            "cannot compact the store at {}; it is left as it was",
            path.display()
        ))),
    }
}
