//! Wires the rooms together and runs the daemon until `shutdown` resolves. The
//! listener and the shutdown future are injected, so tests run the real thing.

use crate::config::Config;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::pipeline::{self, Pipeline};
use crate::sinks::PushLoop;
use crate::store::{GroupCommit, Store, StoreError};
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub async fn run(
    config: Config,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut config = config;
    std::fs::create_dir_all(&config.store.path).with_context(|| {
        format!(
            "cannot create the store directory {}",
            config.store.path.display()
        )
    })?;
    let store = open_store(&config.store).await?;
    // A learned scoring version in force overrides the weights of `[scoring]`.
    config.scoring = crate::learn::active_scoring(&store, &config.scoring)
        .context("cannot read the scoring version in force")?;
    let config = Arc::new(config);
    let metrics = Metrics::new();
    let commit = GroupCommit::spawn(store.clone());
    let settings = pipeline::Settings {
        scoring: config.scoring.clone(),
        sinks: config.recipients(),
        inbox_retention_days: config.store.inbox_retention_days,
        touch_retention_days: config.store.touch_retention_days,
        dedupe_retention_days: config.store.dedupe_retention_days,
        pipeline: config.pipeline.clone(),
    };
    let mut pipeline = Pipeline::spawn(store.clone(), settings, metrics.clone())
        .context("cannot start the pipeline")?;
    let pipeline_health = pipeline.health();

    let (stop_sinks, sinks_stopped) = watch::channel(false);
    let client = http_client()?;
    let mut sink_tasks = Vec::new();
    for (name, sink) in &config.sinks {
        let push = PushLoop {
            name: name.clone(),
            config: sink.clone(),
            store: store.clone(),
            metrics: metrics.clone(),
            client: client.clone(),
        };
        sink_tasks.push(tokio::spawn(push.run(sinks_stopped.clone())));
    }

    sink_tasks.extend(deal_lookups(
        &config,
        &store,
        &commit,
        &client,
        &sinks_stopped,
    ));

    let state = AppState {
        console: http::console::state::Console::start(&config, store.clone(), metrics.clone()),
        config: config.clone(),
        store: store.clone(),
        commit,
        metrics,
        pipeline: pipeline_health.clone(),
        erasures: pipeline.erasures(),
        intake: http::Intake::new(&config.server),
    };
    let address = listener
        .local_addr()
        .map(|address| address.to_string())
        .unwrap_or_default();
    let worker_nice = config.server.worker_nice;
    // Called once on each worker's own thread, as it starts.
    let server = HttpServer::new(move || {
        yield_to_the_pipeline(worker_nice);
        App::new()
            .wrap(http::bare_errors())
            .app_data(web::Data::new(state.clone()))
            .configure(http::routes)
    })
    .disable_signals()
    // A refusal sent before the body was read lingers a moment for the client to see it.
    .client_disconnect_timeout(Duration::from_secs(1))
    .shutdown_timeout(10)
    .listen(listener)
    .context("cannot listen")?
    .run();
    let handle = server.handle();
    tracing::info!(message = "attentiond is serving.", %address, sources = config.sources.len(), sinks = config.sinks.len());
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let watchdog = spawn_watchdog(pipeline_health);

    let server_task = tokio::spawn(server);
    let failure = tokio::select! {
        () = shutdown => None,
        reason = store.failed() => Some(reason),
    };
    tracing::info!(message = "Shutting down: finishing requests, then the pipeline.");
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    handle.stop(true).await;
    let _ = server_task.await;
    let _ = stop_sinks.send(true);
    for task in sink_tasks {
        let _ = task.await;
    }
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    pipeline.shutdown();
    if let Some(reason) = failure {
        anyhow::bail!(
            "the store stopped writing ({reason}); everything acknowledged is on disk. \
             Make room on its file system; attentiond resumes when started again"
        );
    }
    store.flush().context("final flush of the store")?;
    Ok(())
}

/// Lowers the calling thread's priority by `nice` below the daemon's own, once per
/// thread. A webhook costs the front door far less than applying it costs the
/// pipeline: at equal shares of a busy CPU the front door acknowledges faster than
/// the pipeline applies, and the backlog, with the time from signal to CRM, grows
/// without bound. Lowered, the workers take what the pipeline leaves.
fn yield_to_the_pipeline(nice: u8) {
    thread_local! {
        static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if nice == 0 || LOWERED.with(|lowered| lowered.replace(true)) {
        return;
    }
    if let Err(error) = lower_this_thread(nice) {
        tracing::warn!(message = "Cannot lower the priority of an HTTP worker; it keeps the daemon's.", %error);
    }
}

/// Linux schedules each thread by its own nice value, which `setpriority` sets for
/// one thread when given its thread id.
#[cfg(target_os = "linux")]
fn lower_this_thread(nice: u8) -> std::io::Result<()> {
    // SAFETY: gettid, getpriority and setpriority read or change only the calling
    // thread's scheduling; errno is the calling thread's own.
    unsafe {
        let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
        // -1 is also a valid priority: only errno tells them apart.
        *libc::__errno_location() = 0;
        let current = libc::getpriority(libc::PRIO_PROCESS, thread);
        if current == -1 && *libc::__errno_location() != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let lowered = (current + i32::from(nice)).min(19);
        if libc::setpriority(libc::PRIO_PROCESS, thread, lowered) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Elsewhere a thread has no priority of its own to lower.
#[cfg(not(target_os = "linux"))]
fn lower_this_thread(_nice: u8) -> std::io::Result<()> {
    Ok(())
}

/// One lookup task per HubSpot source that can read deals: with its own token, or
/// a `hubspot` sink's.
fn deal_lookups(
    config: &Config,
    store: &Store,
    commit: &GroupCommit,
    client: &reqwest::Client,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let sink_token = config.sinks.values().find_map(|sink| match sink {
        crate::sinks::SinkConfig::Hubspot(sink) => Some(sink.crm.access_token.clone()),
        _ => None,
    });
    let mut tasks = Vec::new();
    for (name, source) in &config.sources {
        let crate::sources::SourceConfig::Hubspot(hubspot) = source else {
            continue;
        };
        let Some(token) = hubspot.access_token.clone().or_else(|| sink_token.clone()) else {
            continue;
        };
        let lookup = crate::links::DealLookup {
            source: name.clone(),
            api_url: hubspot.api_url.clone(),
            token,
            per_second: hubspot.lookups_per_second,
            store: store.clone(),
            commit: commit.clone(),
            client: client.clone(),
        };
        tasks.push(tokio::spawn(lookup.run(stop.clone())));
    }
    tasks
}

/// Opens the store, waiting a moment if it is locked: a daemon stopped just before
/// in this process may still be closing it, as server workers drop their handles on
/// their own threads and sled finishes its last writes on its own. A store another
/// process holds stays locked and is reported.
async fn open_store(settings: &crate::config::StoreConfig) -> anyhow::Result<Store> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match Store::open_with_cache(&settings.path, settings.cache_mb) {
            Err(StoreError::Locked(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            opened => return opened.context("cannot open the store"),
        }
    }
}

/// Pings systemd's watchdog while the pipeline is healthy, so a stuck pipeline
/// gets the service restarted.
fn spawn_watchdog(
    pipeline: crate::pipeline::PipelineHealth,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return None;
    }
    let period = Duration::from_micros(usec / 2);
    Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(period).await;
            if pipeline.is_running() {
                let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
            }
        }
    }))
}

/// The client every sink uses: one connection pool, our name in `User-Agent`.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("attentiond/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("cannot build the HTTP client")
}
