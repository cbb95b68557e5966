//! Segment over real HTTP: the Webhooks destination signed with its shared secret, the
//! HTTP Tracking API with write keys, and the official Python library
//! (`segment-analytics-python`) driving the daemon as it would drive api.segment.io.
//! Payload shapes follow segment-docs (cited at each fixture).

use crate::harness::*;
use attentiond::config::Config;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const SHARED_SECRET: &str = "segment-shared-secret";
const WRITE_KEY: &str = "segment-write-key";
const SECOND_KEY: &str = "second-write-key";

const SOURCE: &str = r#"
[sources.seg]
kind = "segment"
secret = "segment-shared-secret"
key = "segment-write-key"
write_keys = ["second-write-key"]
[sources.seg.events]
"Webinar Joined" = "webinar_attended"
"#;

/// The test config with room for Segment's 500 KB batches.
fn start() -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = config_text(dir.path(), SOURCE)
        .replace("max_body_bytes = 65536", "max_body_bytes = 1048576");
    assert!(text.contains("max_body_bytes = 1048576"));
    let config = Config::from_toml(&text).expect("test config");
    Daemon::start_with(dir, config)
}

fn x_signature(secret: &str, signed: &str) -> Vec<(String, String)> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signed.as_bytes());
    vec![(
        "X-Signature".into(),
        hex::encode(mac.finalize().into_bytes()),
    )]
}

fn basic(key: &str) -> Vec<(String, String)> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    vec![("Authorization".into(), format!("Basic {encoded}"))]
}

fn iso(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The Track example of segment-docs `destinations/catalog/webhooks/index.md`, with a
/// mapped event name, an email in `context.traits`, a messageId and a current time.
fn destination_track(message_id: &str, email: &str) -> String {
    json!({"version": 1, "type": "track", "userId": "019mr8mf4r", "event": "Demo Requested",
        "properties": {"revenue": "39.95", "shippingMethod": "2-day"},
        "context": {"traits": {"email": email}, "ip": "24.5.68.47", "userAgent": "Mozilla/5.0"},
        "messageId": message_id, "timestamp": iso(-10)})
    .to_string()
}

async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn segment_webhooks_destination_signed_deliveries() {
    let daemon = start();
    let body = destination_track("dest-1", "peter@example.com");
    let (status, answer) = status_and_json(
        daemon
            .post("/webhooks/seg", &x_signature(SHARED_SECRET, &body), &body)
            .await,
    )
    .await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    let view = daemon
        .wait_contact("peter@example.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(view["touches"][0]["kind"], "demo_request");
    assert_eq!(view["crm_ids"]["segment"], "019mr8mf4r");

    // Redelivery (Segment retries for up to 4 hours) counts once.
    let (status, _) = status_and_json(
        daemon
            .post("/webhooks/seg", &x_signature(SHARED_SECRET, &body), &body)
            .await,
    )
    .await;
    assert_eq!(status, 200);

    // Webhooks (Actions) batching: a JSON array signed over its first event only.
    let first = json!({"type": "page", "userId": "019mr8mf4r", "messageId": "dest-2", "timestamp": iso(-5),
        "properties": {"path": "/pricing", "url": "https://example.com/pricing", "title": "Pricing"}})
    .to_string();
    let second =
        json!({"type": "page", "userId": "019mr8mf4r", "messageId": "dest-3", "timestamp": iso(-4),
        "properties": {"path": "/blog", "url": "https://example.com/blog"}})
        .to_string();
    let batch = format!("[{first},{second}]");
    let (status, _) = status_and_json(
        daemon
            .post("/webhooks/seg", &x_signature(SHARED_SECRET, &first), &batch)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let view = daemon
        .wait_contact("segment:019mr8mf4r", |v| v["touch_count"] == 3)
        .await;
    let kinds: Vec<&str> = view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"pricing_view") && kinds.contains(&"page_view"),
        "{kinds:?}"
    );

    let other = destination_track("dest-9", "mallory@example.com");
    for (headers, body, expected) in [
        (x_signature("wrong-secret", &other), other.clone(), 401),
        (x_signature(SHARED_SECRET, &body), other.clone(), 401),
        (vec![], other.clone(), 401),
        (basic(WRITE_KEY), other.clone(), 401),
        (
            x_signature(SHARED_SECRET, "{\"type\":"),
            "{\"type\":".to_string(),
            400,
        ),
        (
            x_signature(SHARED_SECRET, "{\"userId\":\"u\"}"),
            "{\"userId\":\"u\"}".to_string(),
            400,
        ),
    ] {
        let (status, answer) =
            status_and_json(daemon.post("/webhooks/seg", &headers, &body).await).await;
        assert_eq!(status, expected, "{headers:?} {answer}");
        assert_eq!(answer["success"], false, "{answer}");
    }
    daemon.drained().await;
    assert!(daemon.contact("mallory@example.com").await.is_none());
    assert_eq!(
        daemon.contact("peter@example.com").await.unwrap()["touch_count"],
        3
    );
}

/// Posts one Tracking API call; `auth` picks Basic auth or `writeKey` in the body.
async fn call(daemon: &Daemon, path: &str, mut body: Value, basic_auth: bool) -> (u16, Value) {
    let headers = if basic_auth {
        basic(WRITE_KEY)
    } else {
        body["writeKey"] = json!(SECOND_KEY);
        vec![]
    };
    status_and_json(
        daemon
            .post(
                &format!("/webhooks/seg/v1/{path}"),
                &headers,
                &body.to_string(),
            )
            .await,
    )
    .await
}

// Bodies after the examples of segment-docs `sources/catalog/libraries/server/http-api/index.md`.
#[tokio::test]
async fn segment_tracking_api_each_call_type() {
    let daemon = start();
    for basic_auth in [true, false] {
        let n = if basic_auth { "b" } else { "w" };
        let anon = format!("visitor-{n}");
        let user = format!("user-{n}");
        let email = format!("ann-{n}@example.com");
        let page = json!({"anonymousId": anon, "name": "Pricing", "messageId": format!("{n}-1"), "timestamp": iso(-60),
            "properties": {"url": "https://example.com/pricing?plan=team", "title": "Pricing"}});
        assert_eq!(
            call(&daemon, "page", page, basic_auth).await,
            (200, json!({"success": true}))
        );
        let view = daemon
            .wait_contact(&format!("anon:{anon}"), |v| v["touch_count"] == 1)
            .await;
        assert_eq!(view["touches"][0]["kind"], "pricing_view");

        let track = json!({"anonymousId": anon, "userId": user, "event": "Webinar Joined", "messageId": format!("{n}-2"),
            "properties": {"webinar": "Q4"}, "context": {"ip": "24.5.68.47"}, "timestamp": iso(-50)});
        assert_eq!(call(&daemon, "track", track, basic_auth).await.0, 200);
        let identify = json!({"anonymousId": anon, "userId": user, "messageId": format!("{n}-3"), "timestamp": iso(-40),
            "traits": {"email": email, "firstName": "Ann", "lastName": "Lee", "title": "VP Sales",
                "company": {"name": "Initech"}, "address": {"country": "US", "city": "Austin"}}});
        assert_eq!(call(&daemon, "identify", identify, basic_auth).await.0, 200);
        let screen = json!({"userId": user, "name": "Dashboard", "messageId": format!("{n}-4"), "timestamp": iso(-30)});
        assert_eq!(call(&daemon, "screen", screen, basic_auth).await.0, 200);
        let group = json!({"userId": user, "groupId": format!("8e9df332ac-{n}"), "messageId": format!("{n}-5"), "timestamp": iso(-20),
            "traits": {"name": "Initech", "industry": "Technology", "employees": 420}});
        assert_eq!(call(&daemon, "group", group, basic_auth).await.0, 200);
        let alias = json!({"previousId": format!("old-{n}"), "userId": user, "messageId": format!("{n}-6"), "timestamp": iso(-10)});
        assert_eq!(call(&daemon, "alias", alias, basic_auth).await.0, 200);

        let view = daemon
            .wait_contact(&email, |v| {
                v["touch_count"] == 3
                    && v["account"].is_string()
                    && v["profile"]["industry"].is_object()
            })
            .await;
        let kinds: Vec<&str> = view["touches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "pricing_view").count(),
            1,
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&"webinar_attended") && kinds.contains(&"page_view"),
            "{kinds:?}"
        );
        assert_eq!(view["crm_ids"]["segment"], user.as_str());
        assert_eq!(view["account"], format!("segment-group:8e9df332ac-{n}"));
        assert_eq!(view["profile"]["first_name"]["value"], "Ann");
        assert_eq!(view["profile"]["company"]["value"], "Initech");
        assert_eq!(view["profile"]["city"]["source"], "seg");
        assert_eq!(view["profile"]["employees"]["value"], "420");
        let aliased = daemon
            .wait_contact(&format!("segment:old-{n}"), |v| v["touch_count"] == 3)
            .await;
        assert_eq!(aliased["id"], view["id"]);
    }
}

#[tokio::test]
async fn segment_batches_merge_anonymous_attention_and_enforce_segments_limits() {
    let daemon = start();
    // Two anonymous page views, a track, then the identify that names the visitor.
    let batch = json!({"batch": [
        {"type": "page", "anonymousId": "anon-42", "messageId": "b-1", "timestamp": iso(-300),
            "properties": {"path": "/pricing/enterprise", "url": "https://example.com/pricing/enterprise"}},
        {"type": "page", "anonymousId": "anon-42", "messageId": "b-2", "timestamp": iso(-200),
            "properties": {"path": "/features", "url": "https://example.com/features"}},
        {"type": "track", "anonymousId": "anon-42", "event": "Trial Started", "messageId": "b-3", "timestamp": iso(-100)},
        {"type": "identify", "anonymousId": "anon-42", "userId": "u-42", "messageId": "b-4", "timestamp": iso(-50),
            "traits": {"email": "lena@example.com", "title": "Head of Data"}}
    ], "sentAt": iso(0), "context": {"library": {"name": "curl"}}});
    let (status, answer) = status_and_json(
        daemon
            .post(
                "/webhooks/seg/v1/batch",
                &basic(WRITE_KEY),
                &batch.to_string(),
            )
            .await,
    )
    .await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    let view = daemon
        .wait_contact("lena@example.com", |v| {
            v["touch_count"] == 3 && v["profile"]["title"].is_object()
        })
        .await;
    assert!(view["score"].as_u64().unwrap() > 0, "{view}");
    assert_eq!(view["anonymous_ids"], json!(["anon-42"]));

    // The same messages again, plus one new: only the new one counts.
    let mut again = batch.clone();
    again["batch"].as_array_mut().unwrap().push(
        json!({"type": "track", "userId": "u-42", "event": "Demo Requested",
        "messageId": "b-5", "timestamp": iso(-10)}),
    );
    assert_eq!(
        daemon
            .status(
                "/webhooks/seg/v1/batch",
                &basic(WRITE_KEY),
                &again.to_string()
            )
            .await,
        200
    );
    daemon
        .wait_contact("lena@example.com", |v| v["touch_count"] == 4)
        .await;

    // Segment's limits: 32 KB per message, 500 KB per batch → 400 with a JSON error.
    let padded = |anon: &str, id: &str, pad: usize| json!({"type": "page", "anonymousId": anon, "messageId": id, "timestamp": iso(0), "properties": {"pad": "x".repeat(pad)}});
    let oversize_message = json!({"batch": [padded("too-big", "big-1", 33 * 1024)]}).to_string();
    let many: Vec<Value> = (0..18)
        .map(|i| padded("too-many", &format!("many-{i}"), 30_000))
        .collect();
    let oversize_batch = json!({"batch": many}).to_string();
    assert!(oversize_batch.len() > 500 * 1024 && oversize_batch.len() < 1024 * 1024);
    let single = padded("too-big-single", "big-2", 33 * 1024);
    for (path, body, headers) in [
        ("batch", oversize_message.clone(), basic(WRITE_KEY)),
        ("batch", oversize_batch.clone(), basic(WRITE_KEY)),
        ("page", single.to_string(), basic(WRITE_KEY)),
    ] {
        let (status, answer) = status_and_json(
            daemon
                .post(&format!("/webhooks/seg/v1/{path}"), &headers, &body)
                .await,
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["code"], "payload_too_large", "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("Exceed payload limit"),
            "{answer}"
        );
    }

    // Wrong or missing write key → 401; unreadable JSON → 400.
    let stranger = json!({"batch": [{"type": "page", "anonymousId": "stranger", "messageId": "s-1", "timestamp": iso(0)}]});
    let mut in_body = stranger.clone();
    in_body["writeKey"] = json!("not-a-key");
    for (headers, body, expected) in [
        (basic("not-a-key"), stranger.to_string(), 401),
        (vec![], in_body.to_string(), 401),
        (vec![], stranger.to_string(), 401),
        (basic(WRITE_KEY), "{\"batch\":[".to_string(), 400),
    ] {
        let (status, answer) =
            status_and_json(daemon.post("/webhooks/seg/v1/batch", &headers, &body).await).await;
        assert_eq!(status, expected, "{answer}");
        assert!(answer["message"].is_string(), "{answer}");
    }
    daemon.drained().await;
    for anon in ["too-big", "too-many", "too-big-single", "stranger"] {
        assert!(
            daemon.contact(&format!("anon:{anon}")).await.is_none(),
            "{anon} was stored"
        );
    }
    assert_eq!(
        daemon.contact("lena@example.com").await.unwrap()["touch_count"],
        4
    );
}

/// The pinned official library, installed into a virtualenv under the target dir.
const SEGMENT_PYTHON: &str = "segment-analytics-python==2.4.0";

fn target_dir() -> PathBuf {
    // The test binary is <target>/<profile>/deps/it-<hash>.
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

async fn run(
    program: &Path,
    args: &[&str],
    limit: Duration,
) -> Result<std::process::Output, String> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    match tokio::time::timeout(limit, command.output()).await {
        Err(_) => Err(format!(
            "{} {args:?} did not finish within {limit:?}",
            program.display()
        )),
        Ok(Err(error)) => Err(format!("cannot run {}: {error}", program.display())),
        Ok(Ok(output)) => Ok(output),
    }
}

fn describe(output: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A Python with `segment.analytics` importable, made on first use.
async fn segment_python() -> PathBuf {
    let venv = target_dir().join("py-segment-2.4.0");
    let python = venv.join("bin").join("python");
    let ready = |python: PathBuf| async move {
        run(
            &python,
            &[
                "-c",
                "from segment.analytics.version import VERSION; assert VERSION == '2.4.0', VERSION",
            ],
            Duration::from_secs(60),
        )
        .await
        .is_ok_and(|output| output.status.success())
    };
    if ready(python.clone()).await {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let venv_text = venv.to_str().expect("utf-8 path");
    let made = run(Path::new("python3"), &["-m", "venv", venv_text], Duration::from_secs(180))
        .await
        .unwrap_or_else(|error| panic!("this test needs Python 3 with venv (python3 -m venv) to run the official Segment library: {error}"));
    assert!(
        made.status.success(),
        "python3 -m venv {venv_text} failed:\n{}",
        describe(&made)
    );
    let pip = venv.join("bin").join("pip");
    let installed = run(
        &pip,
        &[
            "install",
            "--disable-pip-version-check",
            "--no-input",
            SEGMENT_PYTHON,
        ],
        Duration::from_secs(600),
    )
    .await
    .unwrap_or_else(|error| panic!("pip install {SEGMENT_PYTHON}: {error}"));
    assert!(
        installed.status.success(),
        "pip install {SEGMENT_PYTHON} failed (PyPI must be reachable):\n{}",
        describe(&installed)
    );
    assert!(
        ready(python.clone()).await,
        "{SEGMENT_PYTHON} installed but `segment.analytics` does not import"
    );
    python
}

/// Drives the daemon with the official library: a gzip batch of page, page, track and
/// identify through the background consumer, then a wrong write key in sync mode.
const PYTHON_SCRIPT: &str = r#"
import json, sys
from segment.analytics import Client
from segment.analytics.request import APIError

host, key = sys.argv[1], sys.argv[2]
errors = []
client = Client(key, host=host, gzip=True, max_retries=0, upload_interval=0.2,
                on_error=lambda error, items: errors.append(repr(error)))
client.page(anonymous_id="py-visitor", name="Pricing",
            properties={"path": "/pricing", "url": "https://example.com/pricing"})
client.page(anonymous_id="py-visitor", name="Blog",
            properties={"path": "/blog/launch", "url": "https://example.com/blog/launch"})
client.track(anonymous_id="py-visitor", event="Demo Requested", properties={"plan": "team"})
client.identify(user_id="py-user-1", anonymous_id="py-visitor",
                traits={"email": "grace@example.com", "firstName": "Grace", "title": "CTO",
                        "company": "Hopper Labs"})
client.flush()
client.join()

bad = {}
try:
    Client("not-the-key", host=host, gzip=True, sync_mode=True, max_retries=0).track(
        anonymous_id="py-intruder", event="Demo Requested")
    bad = {"status": 200}
except APIError as error:
    bad = {"status": error.status, "code": error.code, "message": error.message}
print(json.dumps({"errors": errors, "bad_key": bad}))
"#;

#[tokio::test]
async fn the_official_segment_python_library_drives_the_daemon() {
    let python = segment_python().await;
    let daemon = start();
    let script = daemon.dir.path().join("send.py");
    std::fs::write(&script, PYTHON_SCRIPT).expect("script");
    let host = format!("{}/webhooks/seg", daemon.base);
    let output = run(
        &python,
        &[script.to_str().unwrap(), &host, WRITE_KEY],
        Duration::from_secs(120),
    )
    .await
    .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        output.status.success(),
        "the Segment library script failed:\n{}",
        describe(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|error| {
            panic!("unreadable script report ({error}):\n{}", describe(&output))
        });
    assert_eq!(report["errors"], json!([]), "{}", describe(&output));
    assert_eq!(report["bad_key"]["status"], 401, "{report}");
    assert_eq!(report["bad_key"]["code"], "unauthorized", "{report}");

    // The identify joined the anonymous visitor's page views to Grace.
    let view = daemon
        .wait_contact("grace@example.com", |v| {
            v["touch_count"] == 3 && v["profile"]["company"].is_object()
        })
        .await;
    let kinds: Vec<&str> = view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"pricing_view")
            && kinds.contains(&"page_view")
            && kinds.contains(&"demo_request"),
        "{kinds:?}"
    );
    assert!(view["score"].as_u64().unwrap() > 0, "{view}");
    assert_eq!(view["crm_ids"]["segment"], "py-user-1");
    assert_eq!(view["anonymous_ids"], json!(["py-visitor"]));
    assert_eq!(view["profile"]["title"]["value"], "CTO");
    assert_eq!(
        kinds.iter().filter(|k| **k == "pricing_view").count(),
        1,
        "{kinds:?}"
    );
    daemon.drained().await;
    assert!(daemon.contact("anon:py-intruder").await.is_none());
}
