//! Subcommands: `serve`, `check-config`, `contact <key>`, `explain <key>`, `rescore`,
//! `dead-letters list|retry`, `setup-crm <sink>`, `import <file>`, `learn`, `report`,
//! `simulate`, `quarantine list|retry|drop`; the newer ones each in a file of their own under `cli/`.

mod import;
mod learn;
mod quarantine;

use crate::clock::now_millis;
use crate::config::{Config, DEFAULT_CONFIG_PATH};
use crate::model::ContactKey;
use crate::store::{Store, StoreError};
use anyhow::{anyhow, Context as _};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "attentiond",
    version,
    about = "Turns marketing and CRM webhooks into a living attention score and writes it back to the CRM."
)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "ATTENTIOND_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: webhooks, pipeline, sinks, admin API.
    Serve,
    /// Validate the configuration and say what it sets up; exit 1 on any error.
    CheckConfig,
    /// Print one contact as JSON (email, `hubspot:<id>`, `anon:<id>` or `c_<n>`).
    Contact { key: String },
    /// Print the whole calculation behind a contact's fields: each touch, its weight
    /// and decay, caps, fit rules, the stage rule that fired.
    Explain { key: String },
    /// Recompute every contact and account from the touch log under the current
    /// `[scoring]` and queue changed fields for the CRMs (the daemon must be stopped;
    /// it also does this by itself at start when `[scoring]` changed).
    Rescore,
    /// Records a CRM refused for good: list them, or put them back in the outbox.
    DeadLetters {
        #[command(subcommand)]
        action: DeadLetterAction,
    },
    /// Deliveries the pipeline parked after failing every attempt: list them, put
    /// one back in the inbox, or drop it.
    Quarantine {
        #[command(subcommand)]
        action: quarantine::QuarantineAction,
    },
    /// Import history: JSON lines of the standard source's payloads (touch, profile,
    /// identify, outcome), each with an `id`; importing twice counts once. The daemon
    /// must be stopped.
    Import {
        file: PathBuf,
        /// The source name the lines are deduplicated under (a `standard` source's
        /// name, to dedupe against what its webhook already brought).
        #[arg(long, default_value = "import")]
        source: String,
    },
    /// Learn from revenue: print the suggested scoring (weights, memory) beside the
    /// current one, with validation AUC, top-decile lift and calibration for both.
    /// The daemon must be stopped.
    Learn {
        /// Store the suggestion as a new scoring version, rescore and queue what changed.
        #[arg(long, conflicts_with = "revert")]
        apply: bool,
        /// Take the scoring version in force out of force, and rescore.
        #[arg(long)]
        revert: bool,
        /// Days after a snapshot in which an opportunity counts as following it.
        #[arg(long, default_value_t = 30.0)]
        horizon_days: f64,
        /// Refits for the weights' intervals.
        #[arg(long, default_value_t = 40)]
        bootstrap: usize,
        /// Print the suggestion as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a simulated market with known truth (hidden buying journeys, journeys
    /// that fizzle, prize-draw leads, heavy readers, quiet buyers) as JSON lines of
    /// the standard source's payloads, to import or post to a webhook.
    Simulate {
        /// Where to write the lines.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 300)]
        accounts: usize,
        #[arg(long, default_value_t = 365)]
        days: i64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Create the custom fields a sink writes in its CRM, unless they exist.
    SetupCrm {
        /// The sink's name, as in `[sinks.<name>]`.
        sink: String,
        /// Print the requests that would create fields instead of sending them.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeadLetterAction {
    /// Print the dead letters as JSON, with the CRM's own error for each.
    List,
    /// Retry one dead letter by id, or all of them with `--all`.
    Retry {
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => serve(&cli.config),
        Command::CheckConfig => check_config(&cli.config),
        Command::Contact { ref key } => contact(&cli.config, key),
        Command::DeadLetters { ref action } => dead_letters(&cli.config, action),
        Command::Explain { ref key } => explain(&cli.config, key),
        Command::Quarantine { ref action } => {
            load(&cli.config).and_then(|config| quarantine::run(&config, action))
        }
        Command::Rescore => rescore(&cli.config),
        Command::Learn {
            apply,
            revert,
            horizon_days,
            bootstrap,
            json,
        } => load(&cli.config).and_then(|config| {
            learn::run(
                &config,
                &learn::Request {
                    apply,
                    revert,
                    json,
                    options: crate::learn::Options {
                        horizon_days,
                        bootstrap,
                    },
                },
            )
        }),
        Command::Simulate {
            ref out,
            accounts,
            days,
            seed,
        } => simulate(out, accounts, days, seed),
        Command::Import {
            ref file,
            ref source,
        } => load(&cli.config).and_then(|config| import::run(&config, file, source)),
        Command::SetupCrm { ref sink, dry_run } => setup_crm(&cli.config, sink, dry_run),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("attentiond: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).with_context(|| format!("invalid configuration {}", path.display()))
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ATTENTIOND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only help a person at a terminal, never a journal or a file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve(path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(path)?;
    init_logging(&config.server.log_format);
    for warning in config.warnings() {
        tracing::warn!(message = "Configuration warning.", %warning);
    }
    let listener = std::net::TcpListener::bind(&config.server.listen)
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    actix_web::rt::System::new().block_on(crate::server::run(
        config,
        listener,
        shutdown_signal(),
    ))?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn check_config(path: &Path) -> anyhow::Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{}: {error}", path.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("{}: OK", path.display());
    println!("listen: {}", config.server.listen);
    for (name, source) in &config.sources {
        println!("source {name} ({}): POST /webhooks/{name}", source.kind());
    }
    for (name, sink) in &config.sinks {
        println!("sink {name} ({})", sink.kind());
    }
    for warning in config.warnings() {
        println!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the store directly; if the daemon holds it, asks the daemon's admin API.
fn contact(path: &Path, key: &str) -> anyhow::Result<ExitCode> {
    let config = load(path)?;
    if !config.store.path.join("db").exists() {
        return Err(anyhow!(
            "no store at {} (check store.path)",
            config.store.path.display()
        ));
    }
    let view = match Store::open_with_cache(&config.store.path, config.store.cache_mb) {
        Ok(store) => {
            let parsed = ContactKey::parse(key)
                .ok_or_else(|| anyhow!("`{key}` is not an email, `system:id` or contact id"))?;
            let scoring = crate::learn::active_scoring(&store, &config.scoring)?;
            crate::views::contact_view(&store, &parsed, now_millis(), &scoring)?
                .map(serde_json::to_value)
                .transpose()?
        }
        Err(StoreError::Locked(_)) => ask_daemon(&config, false, &["contacts", key])?
            .map(|body| serde_json::from_str(&body))
            .transpose()?,
        Err(error) => return Err(error.into()),
    };
    match view {
        Some(view) => {
            println!("{}", serde_json::to_string_pretty(&view)?);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no contact known as `{key}`");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Asks the running daemon's admin API: `GET` or `POST` `/api/v1/<path…>`. The body of
/// a 2xx answer, `None` for a 404.
fn ask_daemon(config: &Config, post: bool, path: &[&str]) -> anyhow::Result<Option<String>> {
    let token = config.server.admin_token.as_ref().ok_or_else(|| {
        anyhow!("the store is in use by the daemon and server.admin_token is not set to ask it")
    })?;
    let mut url = reqwest::Url::parse(&format!("http://{}/api/v1", config.server.listen))?;
    url.path_segments_mut()
        .map_err(|_| anyhow!("server.listen does not make a URL"))?
        .extend(path);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let request = if post {
            client.post(url)
        } else {
            client.get(url)
        };
        let response = request
            .bearer_auth(token.expose())
            .send()
            .await
            .with_context(|| {
                format!(
                    "the store is in use and the daemon at {} does not answer",
                    config.server.listen
                )
            })?;
        match response.status().as_u16() {
            200..=299 => Ok(Some(response.text().await?)),
            404 => Ok(None),
            status => Err(anyhow!(
                "the daemon answered {status}: {}",
                response.text().await.unwrap_or_default()
            )),
        }
    })
}

fn setup_crm(path: &Path, name: &str, dry_run: bool) -> anyhow::Result<ExitCode> {
    let config = load(path)?;
    let sink = config.sinks.get(name).ok_or_else(|| {
        let known: Vec<&str> = config.sinks.keys().map(String::as_str).collect();
        anyhow!(
            "no sink `{name}` in the configuration (sinks: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut setup = crate::sinks::Setup::new(dry_run);
    let client = crate::server::http_client()?;
    let result = runtime.block_on(sink.setup(&client, &mut setup));
    for step in &setup.steps {
        println!("{step}");
    }
    result.with_context(|| format!("setting up sink `{name}` ({})", sink.kind()))?;
    let existing = setup
        .steps
        .iter()
        .filter(|step| matches!(step, crate::sinks::setup::Step::Exists(_)))
        .count();
    if dry_run {
        println!("dry run: nothing was changed in {}", sink.kind());
    } else {
        println!(
            "{} created, {existing} already there",
            setup.created_count()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Works on the store directly; while the daemon holds it, through the admin API.
fn dead_letters(path: &Path, action: &DeadLetterAction) -> anyhow::Result<ExitCode> {
    let config = load(path)?;
    if let DeadLetterAction::Retry {
        id: None,
        all: false,
    } = action
    {
        return Err(anyhow!("say which dead letter to retry, or --all"));
    }
    match Store::open_with_cache(&config.store.path, config.store.cache_mb) {
        Ok(store) => match action {
            DeadLetterAction::List => {
                let letters = crate::views::dead_letters_json(&store)?;
                println!("{}", serde_json::to_string_pretty(&letters)?);
                Ok(ExitCode::SUCCESS)
            }
            DeadLetterAction::Retry { id: Some(id), .. } => {
                let id: u64 = id
                    .parse()
                    .map_err(|_| anyhow!("`{id}` is not a dead letter id"))?;
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
        },
        Err(StoreError::Locked(_)) => dead_letters_via_daemon(&config, action),
        Err(error) => Err(error.into()),
    }
}

fn dead_letters_via_daemon(config: &Config, action: &DeadLetterAction) -> anyhow::Result<ExitCode> {
    let answer = match action {
        DeadLetterAction::List => ask_daemon(config, false, &["dead-letters"])?,
        DeadLetterAction::Retry { id: Some(id), .. } => {
            ask_daemon(config, true, &["dead-letters", id, "retry"])?
        }
        DeadLetterAction::Retry { .. } => ask_daemon(config, true, &["dead-letters", "retry"])?,
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

/// Reads the store directly; if the daemon holds it, asks the daemon's admin API.
fn explain(path: &Path, key: &str) -> anyhow::Result<ExitCode> {
    let config = load(path)?;
    let parsed = ContactKey::parse(key)
        .ok_or_else(|| anyhow!("`{key}` is not an email, `system:id` or contact id"))?;
    let text = match Store::open_with_cache(&config.store.path, config.store.cache_mb) {
        Ok(store) => match store.find_contact(&parsed)? {
            Some(contact) => Some(crate::views::explain(
                &store,
                &contact,
                now_millis(),
                &crate::learn::active_scoring(&store, &config.scoring)?,
            )?),
            None => None,
        },
        Err(StoreError::Locked(_)) => ask_daemon(&config, false, &["contacts", key, "explain"])?,
        Err(error) => return Err(error.into()),
    };
    match text {
        Some(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no contact known as `{key}`");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A progress bar at a terminal, a log line every few seconds otherwise.
fn rescore(path: &Path) -> anyhow::Result<ExitCode> {
    let config = load(path)?;
    init_logging(&config.server.log_format);
    let store = match Store::open_with_cache(&config.store.path, config.store.cache_mb) {
        Ok(store) => store,
        Err(StoreError::Locked(_)) => {
            return Err(anyhow!(
                "the daemon holds the store at {}: restart it instead; a changed [scoring] is rescored at start",
                config.store.path.display()
            ))
        }
        Err(error) => return Err(error.into()),
    };
    let sinks = config.recipients();
    let scoring = crate::learn::active_scoring(&store, &config.scoring)?;
    let context = crate::pipeline::Context {
        store: &store,
        scoring: &scoring,
        sinks: &sinks,
        now: now_millis(),
    };
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "rescoring {bar:40} {pos}/{len} contacts, {per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let started = std::time::Instant::now();
    let mut last_log = std::time::Instant::now();
    let done = crate::pipeline::rescore::rescore(&context, |done, total| match &bar {
        Some(bar) => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        None => {
            if last_log.elapsed() >= std::time::Duration::from_secs(5) {
                last_log = std::time::Instant::now();
                tracing::info!(message = "Rescoring.", done, total);
            }
        }
    })?;
    store.flush()?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "rescored {} contacts from {} touches in {seconds:.1} s ({:.0} touches/s); {} queued for the CRMs; scoring version {}",
        done.contacts,
        done.touches,
        done.touches as f64 / seconds.max(1e-9),
        done.queued,
        crate::scoring::version(&scoring)
    );
    Ok(ExitCode::SUCCESS)
}

fn simulate(out: &Path, accounts: usize, days: i64, seed: u64) -> anyhow::Result<ExitCode> {
    let market = crate::learn::simulate::Market {
        accounts,
        days,
        seed,
    };
    let lines = crate::learn::simulate::generate(&market, now_millis());
    let mut text = String::new();
    for line in &lines {
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {} lines to {}", lines.len(), out.display());
    Ok(ExitCode::SUCCESS)
}
