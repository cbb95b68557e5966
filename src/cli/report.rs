//! `attentiond report --out report.html`: the report as one self-contained HTML
//! file. It reads the store directly; while the daemon holds the store, it asks the
//! daemon (`GET /api/v1/report`), which builds the same page.

use crate::clock::now_millis;
use crate::config::Config;
use crate::store::{Store, StoreError};
use anyhow::{anyhow, Context as _};
use std::path::Path;
use std::process::ExitCode;

pub fn run(config: &Config, out: &Path, bootstrap: usize) -> anyhow::Result<ExitCode> {
    let page = match Store::open_with_cache(&config.store.path, config.store.cache_mb) {
        Ok(store) => {
            let scoring = crate::learn::active_scoring(&store, &config.scoring)?;
            let options = crate::learn::Options {
                bootstrap,
                ..crate::learn::Options::default()
            };
            let report =
                crate::report::build(&store, &scoring, &config.report, &options, now_millis())?;
            crate::report::render(&report)
        }
        Err(StoreError::Locked(_)) => super::ask_daemon(config, reqwest::Method::GET, &["report"])?
            .ok_or_else(|| anyhow!("the daemon does not serve /api/v1/report"))?,
        Err(error) => return Err(error.into()),
    };
    std::fs::write(out, &page).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote the report to {} ({} KB)",
        out.display(),
        page.len() / 1024
    );
    Ok(ExitCode::SUCCESS)
}
