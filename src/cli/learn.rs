//! `attentiond learn`: the suggested scoring beside the current one, with how well
//! each predicts pipeline on the newest weeks; `--apply` stores it as a scoring
//! version and rescores, `--revert` goes back. The daemon must be stopped: both
//! read the whole store, and applying rescores every contact.

use crate::clock::now_millis;
use crate::config::Config;
use crate::learn::{self, Metrics, Options, Suggestion};
use crate::store::{Store, StoreError};
use anyhow::anyhow;
use std::fmt::Write as _;
use std::process::ExitCode;

pub struct Request {
    pub apply: bool,
    pub revert: bool,
    pub json: bool,
    pub options: Options,
}

fn open(config: &Config) -> anyhow::Result<Store> {
    match Store::open_with_cache(&config.store.path, config.store.cache_mb) {
        Ok(store) => Ok(store),
        Err(StoreError::Locked(_)) => Err(anyhow!(
            "the daemon holds the store at {}: stop it (e.g. `systemctl stop attentiond`), run `attentiond learn`, then start it again",
            config.store.path.display()
        )),
        Err(error) => Err(error.into()),
    }
}

pub fn run(config: &Config, request: &Request) -> anyhow::Result<ExitCode> {
    let store = open(config)?;
    if request.revert {
        let now_in_force = store.revert_scoring_version(now_millis())?;
        let scoring = learn::active_scoring(&store, &config.scoring)?;
        let done = rescore(config, &store, &scoring)?;
        match now_in_force {
            Some(version) => println!("reverted; scoring version {} is in force again", version.id),
            None => println!("reverted; the [scoring] of the configuration is in force"),
        }
        println!(
            "rescored {} contacts; {} queued for the CRMs",
            done.contacts, done.queued
        );
        return Ok(ExitCode::SUCCESS);
    }
    let current = learn::active_scoring(&store, &config.scoring)?;
    let suggestion = match learn::suggest(&store, &current, &request.options, now_millis()) {
        Ok(suggestion) => suggestion,
        Err(error @ learn::LearnError::TooFew { .. }) => {
            eprintln!("{error}");
            return Ok(ExitCode::FAILURE);
        }
        Err(error) => return Err(error.into()),
    };
    if request.json {
        println!("{}", serde_json::to_string_pretty(&suggestion)?);
    } else {
        print!("{}", describe(&suggestion));
    }
    if request.apply {
        let version = store.apply_scoring_version(
            suggestion.learned(),
            serde_json::to_value(&suggestion)?,
            now_millis(),
        )?;
        let scoring = learn::active_scoring(&store, &config.scoring)?;
        let done = rescore(config, &store, &scoring)?;
        println!(
            "applied as scoring version {}; rescored {} contacts, {} queued for the CRMs",
            version.id, done.contacts, done.queued
        );
    } else {
        println!("nothing applied: `attentiond learn --apply` stores it as a new scoring version");
    }
    Ok(ExitCode::SUCCESS)
}

fn rescore(
    config: &Config,
    store: &Store,
    scoring: &crate::scoring::ScoringConfig,
) -> anyhow::Result<crate::pipeline::rescore::Rescored> {
    let sinks = config.recipients();
    let context = crate::pipeline::Context {
        store,
        scoring,
        sinks: &sinks,
        now: now_millis(),
    };
    let done = crate::pipeline::rescore::rescore(&context, |_, _| {})?;
    store.flush()?;
    Ok(done)
}

fn metrics_line(name: &str, metrics: &Metrics) -> String {
    format!(
        "  {name:<28} AUC {:.3}   top-decile lift {:>5.2}   Brier {:.4}\n",
        metrics.auc, metrics.top_decile_lift, metrics.brier
    )
}

/// `half-life 7 d`, or `3 d and 14 d` for a short and a long memory.
fn memories(short: Option<f64>, long: f64) -> String {
    match short {
        Some(short) => format!("memories {short} d and {long} d"),
        None => format!("half-life {long} d"),
    }
}

/// The suggestion in words and a table, as `attentiond learn` prints it.
pub fn describe(s: &Suggestion) -> String {
    let mut out = String::new();
    let w = &s.window;
    let _ = writeln!(
        out,
        "Trained on {} snapshots from {} to {} ({} followed by an opportunity within {} days);\nvalidated on the snapshots from {} to {}.\n",
        w.train_rows, w.train_from, w.train_to, w.train_positives, s.horizon_days, w.validate_from, w.validate_to
    );
    let _ = writeln!(out, "People, on the validation snapshots:");
    out.push_str(&metrics_line(
        &format!("current (half-life {} d)", s.current_half_life_days),
        &s.people.current,
    ));
    out.push_str(&metrics_line(
        &format!(
            "suggested ({})",
            memories(s.short_half_life_days, s.half_life_days)
        ),
        &s.people.learned,
    ));
    if let Some((candidate, metrics)) = &s.alternative {
        let shape = match candidate.memories.as_slice() {
            [short, long] => memories(Some(*short), *long),
            [one] => memories(None, *one),
            _ => String::new(),
        };
        out.push_str(&metrics_line(&format!("not chosen ({shape})"), metrics));
    }
    if let Some(accounts) = &s.accounts {
        let _ = writeln!(out, "\nAccounts, on the validation snapshots:");
        out.push_str(&metrics_line("current account score", &accounts.current));
        out.push_str(&metrics_line(
            "members' attention and breadth",
            &accounts.learned,
        ));
    }
    let two = s.short_half_life_days.is_some();
    let _ = writeln!(
        out,
        "\nSuggested weights (points per touch; 10 points double the odds of an opportunity within {} days), score scale {:.1}:",
        s.horizon_days, s.score_scale
    );
    if let Some(short) = s.short_half_life_days {
        let _ = writeln!(
            out,
            "  a touch counts its long weight at a half-life of {} days plus its short weight at {short} days",
            s.half_life_days
        );
    }
    let _ = writeln!(
        out,
        "  {:<20} {:>8} {:>8}{}   {:>20}",
        "kind",
        "current",
        "suggest",
        if two {
            format!(" {:>8}", "short")
        } else {
            String::new()
        },
        "95% interval (fresh)"
    );
    for weight in &s.weights {
        let interval = if weight.low == 0.0 && weight.high == 0.0 {
            "not seen".to_string()
        } else {
            format!("{:.1} to {:.1}", weight.low, weight.high)
        };
        let _ = writeln!(
            out,
            "  {:<20} {:>8.1} {:>8.1}{}   {:>20}{}",
            weight.kind.as_str(),
            weight.current + weight.current_short,
            weight.weight,
            if two {
                format!(" {:>8.1}", weight.short)
            } else {
                String::new()
            },
            interval,
            if weight.held() { " (held)" } else { "" }
        );
    }
    let _ = writeln!(
        out,
        "\nMemories tried (AUC on the newest training weeks): {}",
        s.candidates
            .iter()
            .take(6)
            .map(|c| format!("{:?} d {:.3}", c.memories, c.inner_auc))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out
}
