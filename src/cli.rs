//! Subcommands: `serve`, `check-config`, `contact <key>`, `explain <key>`, `rescore`,
//! `dead-letters list|retry|delete`, `setup-crm <sink>`, `import <file>`, `learn`,
//! `report`, `simulate`, `quarantine list|retry|drop`; the newer ones each in a file of
//! their own under `cli/`.

mod compact;
mod dead_letters;
mod import;
mod learn;
mod privacy;
mod quarantine;
mod report;

pub use dead_letters::DeadLetterAction;

use crate::clock::now_millis;
use crate::config::{Config, ConfigError, DEFAULT_CONFIG_PATH};
use crate::model::ContactKey;
use crate::store::{Store, StoreError};
use anyhow::{anyhow, Context as _};
use clap::{Parser, Subcommand};
use reqwest::Method;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What every `--help` ends with: the settings that come from the environment.
const ENVIRONMENT_HELP: &str = "\
Environment:
  ATTENTIOND_CONFIG                 the configuration file, instead of --config
  ATTENTIOND__<SECTION>__<KEY>      overrides a key of the file, e.g.
                                    ATTENTIOND__SERVER__LISTEN=0.0.0.0:8080 or
                                    ATTENTIOND__SOURCES__SITE__SECRET_FILE=/run/credentials/site_secret
  ATTENTIOND_LOG                    log filter, e.g. info or attentiond=debug";

#[derive(Debug, Parser)]
#[command(
    name = "attentiond",
    version,
    about = "Turns marketing and CRM webhooks into a living attention score and writes it back to the CRM.",
    after_help = ENVIRONMENT_HELP
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
    /// Print one contact as JSON, exactly as `GET /api/v1/contacts/<key>` answers.
    Contact {
        /// An email, `hubspot:<id>` (any CRM's `<system>:<id>`), `anon:<id>` or `c_<n>`.
        key: String,
    },
    /// Print the whole calculation behind a contact's fields: each touch, its weight
    /// and decay, caps, fit rules, the stage rule that fired.
    Explain {
        /// An email, `hubspot:<id>` (any CRM's `<system>:<id>`), `anon:<id>` or `c_<n>`.
        key: String,
    },
    /// Forget a person for good (email, `hubspot:<id>`, `anon:<id>` or `c_<n>`): their
    /// records, their key and the deliveries naming them; later events about them
    /// are dropped. Asks the daemon when it holds the store.
    Erase {
        /// An email, `hubspot:<id>` (any CRM's `<system>:<id>`), `anon:<id>` or `c_<n>`.
        key: String,
    },
    /// Print everything held about a person as one JSON document (GDPR access and
    /// portability). Asks the daemon when it holds the store.
    Export {
        /// An email, `hubspot:<id>` (any CRM's `<system>:<id>`), `anon:<id>` or `c_<n>`.
        key: String,
    },
    /// Recompute every contact and account from the touch log under the current
    /// `[scoring]` and queue changed fields for the CRMs (the daemon must be stopped;
    /// it also does this by itself at start when `[scoring]` changed).
    Rescore,
    /// Write the store again with only what it holds now, to give back the space
    /// sled's files keep beyond the data (the daemon must be stopped).
    Compact,
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
        /// The JSON lines file to read.
        file: PathBuf,
        /// The source name the lines are deduplicated under (a `standard` source's
        /// name, to dedupe against what its webhook already brought).
        #[arg(long, default_value = "import")]
        source: String,
    },
    /// Learn from revenue: print the suggested scoring (weights, one memory or a
    /// short and a long one) beside the current one, with validation AUC, top-decile
    /// lift and calibration for both. The daemon must be stopped.
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
        /// Suggest one memory, or two (a short and a long one: acceleration);
        /// without it, whichever ranks best on the newest training weeks.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
        memories: Option<u8>,
        /// Print the suggestion as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the report: does attention predict pipeline, which attention converts,
    /// attention as marketing's measure; one self-contained HTML file. While the
    /// daemon runs, it is asked for the report.
    Report {
        /// Where to write the HTML.
        #[arg(long)]
        out: PathBuf,
        /// Refits for the learned weights' intervals.
        #[arg(long, default_value_t = 40)]
        bootstrap: usize,
    },
    /// Write a simulated market with known truth (hidden buying journeys, journeys
    /// that fizzle, prize-draw leads, heavy readers, quiet buyers) as JSON lines of
    /// the standard source's payloads, to import or post to a webhook.
    Simulate {
        /// Where to write the lines.
        #[arg(long)]
        out: PathBuf,
        /// Companies in the market.
        #[arg(long, default_value_t = 300)]
        accounts: usize,
        /// Days of history, ending now.
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// Seed of the random choices: the same seed writes the same market.
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

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve) {
        end_quietly_when_output_closes();
    }
    let result = match cli.command {
        Command::Serve => serve(&cli.config),
        Command::CheckConfig => check_config(&cli.config),
        Command::Contact { ref key } => contact(&cli.config, key),
        Command::DeadLetters { ref action } => dead_letters::run(&cli.config, action),
        Command::Explain { ref key } => explain(&cli.config, key),
        Command::Quarantine { ref action } => {
            load(&cli.config).and_then(|config| quarantine::run(&config, action))
        }
        Command::Rescore => rescore(&cli.config),
        Command::Compact => load(&cli.config).and_then(|config| compact::run(&config)),
        Command::Erase { ref key } => load(&cli.config).and_then(|config| {
            privacy::erase(&config, key, |path| {
                ask_daemon(&config, Method::DELETE, path)
            })
        }),
        Command::Export { ref key } => load(&cli.config).and_then(|config| {
            privacy::export(&config, key, |path| ask_daemon(&config, Method::GET, path))
        }),
        Command::Learn {
            apply,
            revert,
            horizon_days,
            bootstrap,
            memories,
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
                        memories: memories.map(usize::from),
                    },
                },
            )
        }),
        Command::Report { ref out, bootstrap } => {
            load(&cli.config).and_then(|config| report::run(&config, out, bootstrap))
        }
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

/// A one-shot command whose reader went away (`attentiond check-config | head -2`) ends
/// as other Unix tools do, by SIGPIPE, instead of panicking on the failed print: Rust
/// ignores SIGPIPE at start-up. The daemon keeps ignoring it, since a closed log pipe
/// must not stop it.
fn end_quietly_when_output_closes() {
    // SAFETY: called once, before any thread is started, with a valid signal and the
    // default disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn load(path: &Path) -> anyhow::Result<Config> {
    Config::load(path).map_err(|error| match error {
        // It names the path already.
        ConfigError::NotFound { .. } => anyhow!(error),
        other => anyhow!(other).context(format!("invalid configuration {}", path.display())),
    })
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
        Err(error @ ConfigError::NotFound { .. }) => {
            eprintln!("{error}");
            return Ok(ExitCode::FAILURE);
        }
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
    // The same bytes as the admin API's answer, so that scripts can use either.
    let view = match Store::open_with_cache(&config.store.path, config.store.cache_mb) {
        Ok(store) => {
            let parsed = ContactKey::parse(key)
                .ok_or_else(|| anyhow!("`{key}` is not an email, `system:id` or contact id"))?;
            let scoring = crate::learn::active_scoring(&store, &config.scoring)?;
            let view = crate::views::contact_view(&store, &parsed, now_millis(), &scoring)?
                .map(|view| serde_json::to_string(&view))
                .transpose()?;
            if view.is_some() {
                warn_of_another_version(&store, &scoring)?;
            }
            view
        }
        Err(StoreError::Locked(_)) => ask_daemon(&config, Method::GET, &["contacts", key])?,
        Err(error) => return Err(error.into()),
    };
    match view {
        Some(view) => {
            println!("{view}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no contact known as `{key}`");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The stage, its history and what the CRMs were sent were decided when the store
/// was last scored; under a configuration whose scoring differs, say so, since the
/// score and reasons shown beside them are recounted under this one.
fn warn_of_another_version(
    store: &Store,
    scoring: &crate::scoring::ScoringConfig,
) -> anyhow::Result<()> {
    let current = crate::scoring::version(scoring);
    if let Some(stored) = store.scoring_version()? {
        if stored != current {
            eprintln!(
                "note: the store was scored under scoring version {stored}, and this configuration's is {current}: the qualification stage and what the CRMs were sent are from version {stored} until `attentiond rescore` or the daemon runs with this configuration; score and reasons are shown as this configuration counts them"
            );
        }
    }
    Ok(())
}

/// Asks the running daemon's admin API: `method` `/api/v1/<path…>`. The body of a 2xx
/// answer, `None` for a 404.
fn ask_daemon(config: &Config, method: Method, path: &[&str]) -> anyhow::Result<Option<String>> {
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
        let response = client
            .request(method, url)
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
        Err(StoreError::Locked(_)) => {
            ask_daemon(&config, Method::GET, &["contacts", key, "explain"])?
        }
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
