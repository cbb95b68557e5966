//! `attentiond erase <key>` and `attentiond export <key>`: on the store itself when
//! the daemon is stopped, else through the running daemon's admin API, so that one
//! pipeline stays the only writer of people.

use crate::clock::now_millis;
use crate::config::Config;
use crate::model::ContactKey;
use crate::store::{Store, StoreError};
use anyhow::anyhow;
use std::process::ExitCode;

fn parse(key: &str) -> anyhow::Result<ContactKey> {
    ContactKey::parse(key)
        .ok_or_else(|| anyhow!("`{key}` is not an email, `system:id` or contact id"))
}

fn open(config: &Config) -> anyhow::Result<Option<Store>> {
    if !config.store.path.join("db").exists() {
        return Err(anyhow!(
            "no store at {} (check store.path)",
            config.store.path.display()
        ));
    }
    match Store::open_with_cache(&config.store.path, config.store.cache_mb) {
        Ok(store) => Ok(Some(store)),
        Err(StoreError::Locked(_)) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

fn print(document: Option<serde_json::Value>, key: &str) -> anyhow::Result<ExitCode> {
    match document {
        Some(document) => {
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no contact known as `{key}`");
            Ok(ExitCode::FAILURE)
        }
    }
}

pub fn erase(
    config: &Config,
    key: &str,
    ask_daemon: impl FnOnce(&[&str]) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<ExitCode> {
    let parsed = parse(key)?;
    let done = match open(config)? {
        Some(store) => {
            let sinks = config.recipients();
            let scoring = crate::learn::active_scoring(&store, &config.scoring)?;
            let context = crate::pipeline::Context {
                store: &store,
                scoring: &scoring,
                sinks: &sinks,
                now: now_millis(),
            };
            let erased = crate::pipeline::erase(&context, &parsed)?;
            store.flush()?;
            erased.map(serde_json::to_value).transpose()?
        }
        None => ask_daemon(&["contacts", key])?
            .map(|body| serde_json::from_str(&body))
            .transpose()?,
    };
    print(done, key)
}

pub fn export(
    config: &Config,
    key: &str,
    ask_daemon: impl FnOnce(&[&str]) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<ExitCode> {
    let parsed = parse(key)?;
    let document = match open(config)? {
        Some(store) => {
            let sinks: Vec<String> = config.sinks.keys().cloned().collect();
            crate::views::export(&store, &parsed, &sinks, now_millis(), &config.scoring)?
                .map(serde_json::to_value)
                .transpose()?
        }
        None => ask_daemon(&["contacts", key, "export"])?
            .map(|body| serde_json::from_str(&body))
            .transpose()?,
    };
    print(document, key)
}
