//! `attentiond quarantine list | retry <id> | drop <id>`: deliveries the pipeline
//! parked after failing every attempt, worked on in the store itself, like the
//! other commands; while the daemon holds the store, its admin API does the same.

use crate::config::Config;
use crate::store::{Store, StoreError};
use anyhow::anyhow;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum QuarantineAction {
    /// Print the parked deliveries as JSON, each with the error that parked it.
    List,
    /// Put a parked delivery back at the end of the inbox, to be applied again.
    Retry {
        /// The parked delivery's id, as `quarantine list` shows it.
        id: String,
    },
    /// Forget a parked delivery.
    Drop {
        /// The parked delivery's id, as `quarantine list` shows it.
        id: String,
    },
}

fn parse_id(id: &str) -> anyhow::Result<u64> {
    id.parse()
        .map_err(|_| anyhow!("`{id}` is not a quarantine id"))
}

pub fn run(config: &Config, action: &QuarantineAction) -> anyhow::Result<ExitCode> {
    let store = match Store::open_with_cache(&config.store.path, config.store.cache_mb) {
        Ok(store) => store,
        Err(StoreError::Locked(_)) => {
            return Err(anyhow!(
                "the daemon holds the store at {}: stop it first, or use its admin API \
                 (GET /api/v1/quarantine, POST /api/v1/quarantine/<id>/retry, DELETE /api/v1/quarantine/<id>)",
                config.store.path.display()
            ))
        }
        Err(error) => return Err(error.into()),
    };
    match action {
        QuarantineAction::List => {
            let listing = crate::views::quarantine(&store)?;
            println!("{}", serde_json::to_string_pretty(&listing)?);
        }
        QuarantineAction::Retry { id } => {
            let id = parse_id(id)?;
            let Some(seq) = store.retry_quarantined(id)? else {
                eprintln!("nothing parked under {id}");
                return Ok(ExitCode::FAILURE);
            };
            store.flush_appended()?;
            println!("delivery {id} is back in the inbox as {seq}");
        }
        QuarantineAction::Drop { id } => {
            let id = parse_id(id)?;
            if !store.drop_quarantined(id)? {
                eprintln!("nothing parked under {id}");
                return Ok(ExitCode::FAILURE);
            }
            store.flush()?;
            println!("delivery {id} dropped");
        }
    }
    Ok(ExitCode::SUCCESS)
}
