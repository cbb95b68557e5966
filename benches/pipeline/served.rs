//! Servers the bench runs in this process, each on its own thread and actix system as
//! the binary runs them: attentiond on a temporary store, and a bare actix server
//! that answers every webhook with an empty 200 (the reference for the front door).

use actix_web::{web, App, HttpResponse, HttpServer};
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const WRITE_KEY: &str = "bench-write-key";

pub struct Served {
    pub address: SocketAddr,
    pub dir: Option<tempfile::TempDir>,
    stop: oneshot::Sender<()>,
    thread: JoinHandle<anyhow::Result<()>>,
}

impl Served {
    pub fn stop(self) -> Option<tempfile::TempDir> {
        let _ = self.stop.send(());
        match self.thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("the server stopped with an error: {error:#}"),
            Err(_) => panic!("the server thread panicked"),
        }
        self.dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

/// attentiond with a `site` (Standard Webhooks) and a `segment` source, plus `extra`
/// TOML (sinks, scoring) and then `PIPELINE_CONFIG`, TOML to compare settings by
/// (`PIPELINE_CONFIG=$'[pipeline]\nround_max_events = 100000'`).
pub fn attentiond(extra: &str) -> Served {
    let extra = format!(
        "{extra}\n{}",
        std::env::var("PIPELINE_CONFIG").unwrap_or_default()
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"bench\"\nmax_inbox_backlog = 10000000\n\
         [store]\npath = {:?}\n\
         [sources.site]\nkind = \"standard\"\nsecret = \"{SECRET}\"\n\
         [sources.segment]\nkind = \"segment\"\nkey = \"{WRITE_KEY}\"\n{extra}",
        dir.path().join("data").display().to_string()
    );
    let config = attentiond::config::Config::from_toml(&toml).expect("the bench config is valid");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port for attentiond");
    let address = listener.local_addr().expect("the listener has an address");
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(attentiond::server::run(config, listener, async {
            let _ = stopped.await;
        }))
    });
    Served {
        address,
        dir: Some(dir),
        stop,
        thread,
    }
}

pub fn bare() -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port for the bare server");
    let address = listener.local_addr().expect("the listener has an address");
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new().default_service(web::to(|| async { HttpResponse::Ok().finish() }))
            })
            .workers(2)
            .disable_signals()
            .listen(listener)?
            .run();
            let handle = server.handle();
            actix_web::rt::spawn(async move {
                let _ = stopped.await;
                handle.stop(true).await;
            });
            server.await?;
            Ok(())
        })
    });
    Served {
        address,
        dir: None,
        stop,
        thread,
    }
}

pub async fn wait_healthy(client: &reqwest::Client, served: &Served) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = client.get(served.url("/healthz")).send().await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "not healthy within 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every sample of a metric family added up (`attentiond_touches_total` over kinds).
pub async fn metric(client: &reqwest::Client, served: &Served, name: &str) -> f64 {
    let text = match client.get(served.url("/metrics")).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => return 0.0,
    };
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until nothing acknowledged is left to apply, at most `within`.
pub async fn drain(client: &reqwest::Client, served: &Served, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if metric(client, served, "attentiond_inbox_pending").await == 0.0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Resident memory of this process, in bytes.
pub fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .unwrap_or(0)
        * 1024
}

/// Bytes the files under `path` take on disk (allocated blocks).
pub fn disk_use(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => disk_use(&entry.path()),
            Ok(meta) => meta.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}
