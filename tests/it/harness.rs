//! Starts the daemon in-process (its own actix system on its own thread) with a
//! config written for the test, and signs deliveries the way platforms do.

use attentiond::config::Config;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const SITE_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const HUBSPOT_SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct Daemon {
    pub base: String,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    store: std::path::PathBuf,
    pub dir: tempfile::TempDir,
}

/// A config with the `site` (standard) and `hubspot` sources, plus `extra` TOML.
pub fn config_text(dir: &std::path::Path, extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
admin_token = "{ADMIN_TOKEN}"
max_body_bytes = 65536

[store]
path = "{}"

[sources.site]
kind = "standard"
secret = "{SITE_SECRET}"

[sources.hubspot]
kind = "hubspot"
client_secret = "{HUBSPOT_SECRET}"
{extra}
"#,
        dir.join("data").display()
    )
}

impl Daemon {
    pub fn start(extra: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        Daemon::start_in(dir, extra)
    }

    pub fn start_in(dir: tempfile::TempDir, extra: &str) -> Daemon {
        let config = Config::from_toml(&config_text(dir.path(), extra)).expect("test config");
        Daemon::start_with(dir, config)
    }

    pub fn start_with(dir: tempfile::TempDir, config: Config) -> Daemon {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let store = config.store.path.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(attentiond::server::run(
                config,
                listener,
                async {
                    let _ = stopped.await;
                },
            ))
        });
        Daemon {
            base,
            client: reqwest::Client::new(),
            stop: Some(stop),
            thread: Some(thread),
            store,
            dir,
        }
    }

    /// Stops gracefully and hands back the data directory for a restart.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.shutdown();
        let dir = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.dir, dir)
    }

    /// Opens the store of a daemon stopped in this process. Its server workers drop
    /// their store handles on their own threads, so sled's lock can outlive `stop`
    /// by a moment.
    pub fn open_stopped_store(path: &std::path::Path) -> attentiond::store::Store {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match attentiond::store::Store::open(path) {
                Err(attentiond::store::StoreError::Locked(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                opened => return opened.expect("the stopped daemon's store opens"),
            }
        }
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread
                .join()
                .expect("daemon thread")
                .expect("daemon ran cleanly");
            // The CLI and the tests open the store next; a handle still closing
            // would make them find it locked.
            drop(Daemon::open_stopped_store(&self.store));
        }
    }

    pub async fn post_site(&self, id: &str, body: &str) -> reqwest::Response {
        let headers = sign_standard(SITE_SECRET, id, unix_now(), body);
        self.post("/webhooks/site", &headers, body).await
    }

    /// Sends a site touch for `email` now and checks it was acknowledged.
    pub async fn touch(&self, email: &str, kind: &str) {
        let body = touch_body(email, kind, &now_rfc3339());
        let status = self.post_site(&delivery_id("touch"), &body).await.status();
        assert_eq!(status, 200, "touch for {email}");
    }

    pub async fn post(
        &self,
        path: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (key, value) in headers {
            request = request.header(key, value);
        }
        request.send().await.expect("daemon answers")
    }

    /// The status a POST gets, for bad-input checks that need nothing else.
    pub async fn status(&self, path: &str, headers: &[(String, String)], body: &str) -> u16 {
        self.post(path, headers, body).await.status().as_u16()
    }

    pub async fn contact(&self, key: &str) -> Option<serde_json::Value> {
        let response = self
            .client
            .get(format!("{}/api/v1/contacts/{key}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("admin api");
        match response.status().as_u16() {
            200 => Some(response.json().await.expect("json")),
            404 => None,
            other => panic!("contact {key}: HTTP {other}"),
        }
    }

    /// Waits until the contact satisfies `done` (the pipeline works after the ack).
    pub async fn wait_contact(
        &self,
        key: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(view) = self.contact(key).await {
                if done(&view) {
                    return view;
                }
            }
            assert!(
                Instant::now() < deadline,
                "contact {key} never reached the expected state: {:?}",
                self.contact(key).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET /api/v1/{path}` with the admin token, as JSON.
    pub async fn admin_get(&self, path: &str) -> serde_json::Value {
        self.client
            .get(format!("{}/api/v1/{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("admin api")
            .json()
            .await
            .expect("json")
    }

    /// `GET /api/v1/accounts/{key}`: the account's score, reasons and members.
    pub async fn account(&self, key: &str) -> serde_json::Value {
        self.admin_get(&format!("accounts/{key}")).await
    }

    /// The `dead_letters` array of `GET /api/v1/dead-letters`.
    pub async fn dead_letters(&self) -> Vec<serde_json::Value> {
        self.admin_get("dead-letters").await["dead_letters"]
            .as_array()
            .cloned()
            .expect("dead_letters array")
    }

    /// Waits until some record has been parked.
    pub async fn wait_dead_letters(&self) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let letters = self.dead_letters().await;
            if !letters.is_empty() {
                return letters;
            }
            assert!(Instant::now() < deadline, "nothing was parked");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// Waits until every acknowledged delivery has been applied.
    pub async fn drained(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self
            .metrics()
            .await
            .contains("attentiond_inbox_pending 0\n")
        {
            assert!(Instant::now() < deadline, "pipeline never drained");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Delivery ids unique within the test binary, so that no delivery is taken for a
/// redelivery of another.
pub fn delivery_id(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Status and `detail` of an RFC 7807 answer.
pub async fn problem(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (
        status,
        body["detail"].as_str().unwrap_or_default().to_string(),
    )
}

pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Signs with the Standard Webhooks reference library, as a sender would.
pub fn sign_standard(secret: &str, id: &str, timestamp: i64, body: &str) -> Vec<(String, String)> {
    let signature = standardwebhooks::Webhook::new(secret)
        .expect("secret")
        .sign(id, timestamp, body.as_bytes())
        .expect("sign");
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), timestamp.to_string()),
        ("webhook-signature".into(), signature),
    ]
}

/// HMAC-SHA256 of `message` under `key`, the signature most platforms send.
pub fn hmac_sha256(key: &str, message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// HubSpot v3: base64 HMAC-SHA256 of method + URI + body + timestamp (ms).
pub fn sign_hubspot_v3(
    secret: &str,
    method: &str,
    uri: &str,
    body: &str,
    timestamp_ms: i64,
) -> Vec<(String, String)> {
    let signature = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
        secret,
        format!("{method}{uri}{body}{timestamp_ms}").as_bytes(),
    ));
    vec![
        ("X-HubSpot-Signature-v3".into(), signature),
        (
            "X-HubSpot-Request-Timestamp".into(),
            timestamp_ms.to_string(),
        ),
    ]
}

pub fn touch_body(email: &str, kind: &str, occurred_at: &str) -> String {
    serde_json::json!({
        "type": "touch",
        "timestamp": "2026-11-23T10:00:00Z",
        "data": { "email": email, "kind": kind, "occurred_at": occurred_at }
    })
    .to_string()
}

/// A contact view's reasons, most telling first.
pub fn reasons(view: &serde_json::Value) -> Vec<String> {
    view["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|reason| reason.as_str().expect("a reason is text").to_string())
        .collect()
}

pub fn now_rfc3339() -> String {
    rfc3339_from_now(0)
}

/// A time `offset_secs` from now (before it when negative), to the second.
pub fn rfc3339_from_now(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Writes `attentiond.toml` into `dir`, as an operator would, and returns its path.
pub fn write_config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("attentiond.toml");
    std::fs::write(&path, config_text(dir, extra)).expect("write config");
    path
}

/// `attentiond --config <config> setup-crm <crm> <args>`: exit code, stdout, stderr.
pub fn setup_crm(config: &std::path::Path, crm: &str, args: &[&str]) -> (i32, String, String) {
    let config = config.to_str().expect("utf-8 path");
    let mut all = vec!["--config", config, "setup-crm", crm];
    all.extend_from_slice(args);
    run_attentiond(&all, &[])
}

/// Runs the built binary from the crate folder: exit code, stdout, stderr.
pub fn run_attentiond(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_attentiond"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run attentiond");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
