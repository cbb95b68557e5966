//! Vendors' own clients driving the daemon over loopback (`tests/senders`, run with
//! Node.js): Segment's analytics.js in a real headless Chromium on a page of another
//! origin, Segment's analytics-node, and Svix's signer.
//!
//! Node.js, Debian's `chromium` and `npm ci --prefix tests/senders` are needed;
//! `.ci/run` installs them. Without them these tests fail and say what is missing.

use crate::harness::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const WRITE_KEY: &str = "browser-write-key";

fn senders() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/senders")
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Fails with what is missing to run a vendor's client, if anything.
fn require(packages: &[&str], browser: bool) {
    let mut missing = Vec::new();
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|output| output.status.success()) {
        missing.push("Node.js (`node` on the PATH)".to_string());
    }
    if browser && !Path::new(&chromium()).exists() {
        missing.push(format!(
            "Chromium at {} (Debian: apt-get install chromium)",
            chromium()
        ));
    }
    for package in packages {
        if !senders().join("node_modules").join(package).exists() {
            missing.push(format!("{package} (npm ci --prefix tests/senders)"));
        }
    }
    assert!(
        missing.is_empty(),
        "\n\n*** The vendors' clients cannot run: missing {}. ***\n\
         *** `bash .ci/run` installs everything they need. ***\n\n",
        missing.join(", ")
    );
}

/// Runs a script of `tests/senders` with `env`; its stdout, after checking it ended well.
async fn node(script: &str, env: &[(&str, &str)]) -> String {
    let mut command = tokio::process::Command::new("node");
    command
        .arg(senders().join(script))
        .current_dir(senders())
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within 2 minutes"))
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{script} failed:\n{stdout}");
    stdout
}

fn kinds(view: &Value) -> Vec<String> {
    view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap().to_string())
        .collect()
}

/// A port nobody listens on now, for the page server the browser script starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_js_on_a_page_of_another_origin_reaches_the_daemon() {
    require(&["playwright-core", "@segment/analytics-next"], true);
    let page_port = free_port();
    let page_origin = format!("http://localhost:{page_port}");
    let daemon = Daemon::start(&format!(
        r#"
[sources.web]
kind = "segment"
key = "{WRITE_KEY}"
allowed_origins = ["{page_origin}"]

[sources.closed]
kind = "segment"
key = "{WRITE_KEY}"
"#
    ));
    let said = node(
        "segment-browser.mjs",
        &[
            ("DAEMON", &daemon.base),
            ("SOURCE", "web"),
            ("CLOSED", "closed"),
            ("WRITE_KEY", WRITE_KEY),
            ("PAGE_PORT", &page_port.to_string()),
            ("CHROMIUM", &chromium()),
        ],
    )
    .await;
    assert!(said.contains("all passed"), "{said}");

    // page, track, identify and group, each to its short path, made one person in
    // one account; the identify joined the visitor's page view and demo request.
    let view = daemon
        .wait_contact("lin@example.com", |v| {
            v["touch_count"] == 2 && v["account"].is_string()
        })
        .await;
    let mut seen = kinds(&view);
    seen.sort();
    assert_eq!(seen, ["demo_request", "pricing_view"], "{view}");
    assert_eq!(view["crm_ids"]["segment"], "web-user-1");
    assert_eq!(view["account"], "segment-group:acme-co");
    assert_eq!(view["profile"]["title"]["value"], "Head of Growth");
    // The batching strategy's `/v1/b`.
    let view = daemon
        .wait_contact("kai@example.com", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(view["crm_ids"]["segment"], "web-user-2");

    // The browser never sent to the source that allows no origin.
    daemon.drained().await;
    assert!(daemon.contact("anon:closed-visitor").await.is_none());

    // The answers the browser read, asked directly.
    let preflight = |source: &str, origin: &str| {
        daemon
            .client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/webhooks/{source}/v1/t", daemon.base),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("web", &page_origin).await.unwrap();
    assert_eq!(allowed.status(), 204);
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some(page_origin.as_str())
    );
    assert!(header(&allowed, "access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_eq!(
        header(&allowed, "access-control-allow-headers").as_deref(),
        Some("authorization,content-type")
    );
    for (source, origin) in [
        ("closed", page_origin.as_str()),
        ("web", "http://evil.example"),
    ] {
        let refused = preflight(source, origin).await.unwrap();
        assert_eq!(refused.status(), 403, "{source} {origin}");
        assert_eq!(header(&refused, "access-control-allow-origin"), None);
    }
    let post = |origin: &'static str| {
        daemon
            .client
            .post(format!("{}/webhooks/web/v1/t", daemon.base))
            .basic_auth(WRITE_KEY, Some(""))
            .header("Origin", origin)
            .header("Content-Type", "text/plain")
            .body(
                json!({"event": "Demo Requested", "anonymousId": "direct", "messageId": format!("direct-{origin}"),
                    "timestamp": now_rfc3339()})
                .to_string(),
            )
            .send()
    };
    let other = post("http://evil.example").await.unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(header(&other, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn analytics_node_with_the_documented_host_and_path_reaches_the_daemon() {
    require(&["@segment/analytics-node"], false);
    let daemon = Daemon::start(&format!(
        "\n[sources.seg]\nkind = \"segment\"\nkey = \"{WRITE_KEY}\"\n"
    ));
    let said = node(
        "segment-node.mjs",
        &[
            ("DAEMON", &daemon.base),
            ("SOURCE", "seg"),
            ("WRITE_KEY", WRITE_KEY),
        ],
    )
    .await;
    let report: Value = serde_json::from_str(said.lines().last().unwrap_or(""))
        .unwrap_or_else(|error| panic!("unreadable report ({error}): {said}"));
    assert_eq!(report["errors"], json!([]), "{said}");
    assert_eq!(
        report["refused"].as_array().map(Vec::len),
        Some(1),
        "{said}"
    );
    let view = daemon
        .wait_contact("noor@example.com", |v| {
            v["touch_count"] == 2 && v["account"].is_string()
        })
        .await;
    let mut seen = kinds(&view);
    seen.sort();
    assert_eq!(seen, ["demo_request", "pricing_view"], "{view}");
    assert_eq!(view["crm_ids"]["segment"], "node-user-1");
    assert_eq!(view["anonymous_ids"], json!(["node-visitor"]));
    assert_eq!(view["account"], "segment-group:node-works");
    daemon.drained().await;
    assert!(daemon.contact("anon:node-intruder").await.is_none());
}

#[tokio::test]
async fn a_delivery_signed_by_svix_is_accepted_under_svix_header_names() {
    require(&["svix"], false);
    let daemon = Daemon::start("");
    let body = touch_body("sven@example.com", "demo_request", &now_rfc3339());
    let said = node(
        "svix-send.mjs",
        &[
            ("URL", &format!("{}/webhooks/site", daemon.base)),
            ("SECRET", SITE_SECRET),
            ("MSG_ID", "msg_2ZkQ4svixSent"),
            ("BODY", &body),
        ],
    )
    .await;
    let report: Value = serde_json::from_str(said.lines().last().unwrap_or(""))
        .unwrap_or_else(|error| panic!("unreadable report ({error}): {said}"));
    assert_eq!(report["signed"]["status"], 200, "{said}");
    assert_eq!(report["forged"]["status"], 401, "{said}");
    let view = daemon
        .wait_contact("sven@example.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(view["touches"][0]["kind"], "demo_request");
    daemon.drained().await;
    assert_eq!(
        daemon.contact("sven@example.com").await.unwrap()["touch_count"],
        1,
        "the forged body was not stored"
    );
}
