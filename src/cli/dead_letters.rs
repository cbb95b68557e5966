//! `attentiond dead-letters list | retry <id> | retry --all | delete <id>`: on the
//! store directly, or through the admin API while the daemon holds the store.

use super::{ask_daemon, load};
use crate::clock::now_millis;
use crate::config::Config;
use crate::store::{Store, StoreError};
use anyhow::anyhow;
use clap::Subcommand;
use reqwest::Method;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum DeadLetterAction {
    /// Print the dead letters as JSON, with the CRM's own error for each.
    List,
    /// Put one dead letter back in its sink's outbox by id, or all of them with `--all`.
    Retry {
        /// The dead letter's `id`, as `list` prints it.
        id: Option<String>,
        /// Retry every dead letter.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
    /// Forget one dead letter for good: its record is not written to the CRM.
    Delete {
        /// The dead letter's `id`, as `list` prints it.
        id: String,
    },
}

pub fn run(path: &Path, action: &DeadLetterAction) -> anyhow::Result<ExitCode> {
    let config = load(path)?;
    if let DeadLetterAction::Retry {
        id: None,
        all: false,
    } = action
    {
        return Err(anyhow!("say which dead letter to retry, or --all"));
    }
    match Store::open_with_cache(&config.store.path, config.store.cache_mb) {
        Ok(store) => on_store(&store, action),
        Err(StoreError::Locked(_)) => via_daemon(&config, action),
        Err(error) => Err(error.into()),
    }
}

fn parse_id(id: &str) -> anyhow::Result<u64> {
    id.parse()
        .map_err(|_| anyhow!("`{id}` is not a dead letter id (a number, as `list` prints it)"))
}

fn on_store(store: &Store, action: &DeadLetterAction) -> anyhow::Result<ExitCode> {
    match action {
        DeadLetterAction::List => {
            let letters = crate::views::dead_letters_json(store)?;
            println!("{}", serde_json::to_string_pretty(&letters)?);
            Ok(ExitCode::SUCCESS)
        }
        DeadLetterAction::Retry { id: Some(id), .. } => {
            let id = parse_id(id)?;
            if store.retry_dead_letter(id, now_millis())? {
                store.flush()?;
                println!("dead letter {id} queued again");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no dead letter {id}");
                Ok(ExitCode::FAILURE)
            }
        }
        DeadLetterAction::Retry { .. } => {
            let mut count = 0;
            for letter in store.dead_letters()? {
                if store.retry_dead_letter(letter.id, now_millis())? {
                    count += 1;
                }
            }
            store.flush()?;
            println!("{count} dead letters queued again");
            Ok(ExitCode::SUCCESS)
        }
        DeadLetterAction::Delete { id } => {
            let id = parse_id(id)?;
            if store.delete_dead_letter(id)? {
                store.flush()?;
                println!("dead letter {id} deleted");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no dead letter {id}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

fn via_daemon(config: &Config, action: &DeadLetterAction) -> anyhow::Result<ExitCode> {
    let answer = match action {
        DeadLetterAction::List => ask_daemon(config, Method::GET, &["dead-letters"])?,
        DeadLetterAction::Retry { id: Some(id), .. } => {
            ask_daemon(config, Method::POST, &["dead-letters", id, "retry"])?
        }
        DeadLetterAction::Retry { .. } => {
            ask_daemon(config, Method::POST, &["dead-letters", "retry"])?
        }
        DeadLetterAction::Delete { id } => {
            let id = parse_id(id)?;
            return match ask_daemon(config, Method::DELETE, &["dead-letters", &id.to_string()])? {
                Some(_) => {
                    println!("dead letter {id} deleted");
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("no dead letter {id}");
                    Ok(ExitCode::FAILURE)
                }
            };
        }
    };
    match answer {
        Some(body) => {
            let body: serde_json::Value = serde_json::from_str(&body)?;
            println!("{}", serde_json::to_string_pretty(&body)?);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no such dead letter");
            Ok(ExitCode::FAILURE)
        }
    }
}
