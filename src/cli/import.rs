//! `attentiond import <file>`: history exported from a CRM or a warehouse, as JSON
//! lines of the standard source's payloads, through the same normalize, inbox and
//! dedupe path as webhooks. Importing a file twice counts every line once.

use crate::clock::now_millis;
use crate::config::Config;
use crate::store::{Store, StoreError};
use anyhow::{anyhow, Context as _};
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

/// Lines per inbox delivery: one flush and one pipeline round each.
const CHUNK: usize = 500;

/// What an import did.
#[derive(Debug, Default, PartialEq)]
pub struct Imported {
    pub lines: usize,
    /// Events not applied before.
    pub new: usize,
    /// Events applied before (an earlier import, or the same webhook).
    pub known: usize,
}

pub fn run(config: &Config, file: &Path, source: &str) -> anyhow::Result<ExitCode> {
    let store = match Store::open_with_cache(&config.store.path, config.store.cache_mb) {
        Ok(store) => store,
        Err(StoreError::Locked(_)) => {
            return Err(anyhow!(
                "the daemon holds the store at {}: stop it (e.g. `systemctl stop attentiond`), run the import, then start it again; \
                 or, to add history while it runs, POST each line's payload to a `standard` source's webhook",
                config.store.path.display()
            ))
        }
        Err(error) => return Err(error.into()),
    };
    let scoring = config.scoring.clone();
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = if terminal {
        indicatif::ProgressBar::new(size)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "importing {bar:40} {bytes}/{total_bytes}, {msg}, {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let sinks = config.recipients();
    let result = import(
        &store,
        &scoring,
        &sinks,
        reader,
        source,
        |done, imported| {
            bar.set_position(done);
            bar.set_message(format!("{} new events", imported.new));
        },
    );
    bar.finish_and_clear();
    store.flush()?;
    let imported = result?;
    println!(
        "imported {} from {}: {} lines, {} new events, {} already known (source `{source}`)",
        file.display(),
        source,
        imported.lines,
        imported.new,
        imported.known
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads every line, appends each chunk to the inbox and applies it. Stops at the
/// first line it cannot read, naming it; what came before it is kept, and a rerun
/// adds only what is new.
pub fn import(
    store: &Store,
    scoring: &crate::scoring::ScoringConfig,
    sinks: &crate::fields::Recipients,
    reader: impl BufRead,
    source: &str,
    mut progress: impl FnMut(u64, &Imported),
) -> anyhow::Result<Imported> {
    let mut imported = Imported::default();
    let mut chunk: Vec<(usize, String)> = Vec::with_capacity(CHUNK);
    let mut bytes = 0u64;
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read line {}", index + 1))?;
        bytes += line.len() as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        imported.lines += 1;
        chunk.push((index + 1, line));
        if chunk.len() == CHUNK {
            apply_chunk(store, scoring, sinks, source, &chunk, &mut imported)?;
            chunk.clear();
            progress(bytes, &imported);
        }
    }
    apply_chunk(store, scoring, sinks, source, &chunk, &mut imported)?;
    progress(bytes, &imported);
    Ok(imported)
}

fn apply_chunk(
    store: &Store,
    scoring: &crate::scoring::ScoringConfig,
    sinks: &crate::fields::Recipients,
    source: &str,
    chunk: &[(usize, String)],
    imported: &mut Imported,
) -> anyhow::Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let now = now_millis();
    let lines: Vec<(usize, &str)> = chunk.iter().map(|(n, l)| (*n, l.as_str())).collect();
    let accepted =
        crate::sources::standard::import(&lines, now).map_err(|error| anyhow!("{error}"))?;
    let events = accepted.events().len();
    let body = chunk
        .iter()
        .map(|(_, line)| line.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let (_, new) = store.append_local(source, accepted, body.as_bytes(), now)?;
    imported.new += new;
    imported.known += events - new;
    let context = crate::pipeline::Context {
        store,
        scoring,
        sinks,
        now,
    };
    loop {
        let entries = store.inbox_after(store.cursor(), 256)?;
        if entries.is_empty() {
            return Ok(());
        }
        crate::pipeline::apply_deliveries(&context, &entries)?;
    }
}
