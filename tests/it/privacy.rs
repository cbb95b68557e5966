//! A person's rights over the store: erasure that leaves no byte of them in the
//! store's files, and the export of everything held about them.
//!
//! The HubSpot delivery is shaped as HubSpot's webhooks documentation shows it
//! (developers.hubspot.com/docs/api/webhooks, "contact.propertyChange"); the
//! profile and touches as the standard source's own payloads.

use crate::fake_hubspot::{FakeHubspot, TOKEN};
use crate::harness::*;
use crate::source_hubspot::{event, send};
use std::time::{Duration, Instant};

const EMAIL: &str = "Zelda.Quintero@Example.org";
const HUBSPOT_ID: u64 = 98_765_432;
const ANONYMOUS: &str = "visitor-5b1e0c77d2";
const FIRST: &str = "Zelda";
const LAST: &str = "Quintero";
const PHONE: &str = "+1 555 0199 321";
// Her part of her company's buying group carries her title. The company's name is
// the account's, which names no person and stays plain.
const TITLE: &str = "Head of Quintessential Procurement";
const COMPANY: &str = "Zymurgy Holdings";

fn sink(fake: &FakeHubspot) -> String {
    format!(
        r#"
[sinks.hubspot]
kind = "hubspot"
base_url = "{}"
access_token = "{TOKEN}"
flush_interval_ms = 100
max_attempts = 1
"#,
        fake.base
    )
}

async fn post_site(daemon: &Daemon, data: serde_json::Value) {
    let body = data.to_string();
    let status = daemon
        .post_site(&delivery_id("privacy"), &body)
        .await
        .status();
    assert_eq!(status, 200, "{body}");
}

async fn admin(daemon: &Daemon, method: reqwest::Method, path: &str) -> reqwest::Response {
    daemon
        .client
        .request(method, format!("{}{path}", daemon.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("daemon answers")
}

/// Every file under `dir`, as bytes, that holds one of `needles`.
fn files_holding(dir: &std::path::Path, needles: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read dir") {
                todo.push(entry.expect("entry").path());
            }
            continue;
        }
        let bytes = std::fs::read(&path).expect("read file");
        for needle in needles {
            if bytes
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
            {
                found.push(format!("{} holds {needle:?}", path.display()));
            }
        }
    }
    found
}

#[tokio::test]
async fn an_erased_person_leaves_no_byte_in_the_store_and_others_stay() {
    let fake = FakeHubspot::start();
    // HubSpot refuses her record: a dead letter about her is kept.
    fake.forget(&EMAIL.to_lowercase());
    fake.forget(&HUBSPOT_ID.to_string());
    let daemon = Daemon::start(&sink(&fake));
    post_site(
        &daemon,
        serde_json::json!({"type": "identify", "data": {"email": EMAIL, "anonymous_id": ANONYMOUS}}),
    )
    .await;
    post_site(
        &daemon,
        serde_json::json!({"type": "profile", "data": {"email": EMAIL, "fields": {
            "first_name": FIRST, "last_name": LAST, "phone": PHONE, "title": TITLE,
            "company": COMPANY}}}),
    )
    .await;
    daemon.touch(EMAIL, "webinar_attended").await;
    daemon.touch("bob@example.net", "meeting_booked").await;
    post_site(
        &daemon,
        serde_json::json!({"type": "touch", "data": {"anonymous_id": ANONYMOUS,
            "kind": "page_view", "occurred_at": now_rfc3339(),
            "properties": {"url": format!("https://acme.com/pricing?who={ANONYMOUS}")}}}),
    )
    .await;
    let hubspot = [
        event(
            91_001,
            HUBSPOT_ID,
            "contact.propertyChange",
            serde_json::json!({"propertyName": "email", "propertyValue": EMAIL}),
        ),
        event(
            91_002,
            HUBSPOT_ID,
            "contact.propertyChange",
            serde_json::json!({"propertyName": "phone", "propertyValue": PHONE}),
        ),
    ];
    assert_eq!(send(&daemon, &hubspot).await.status(), 200);
    daemon.drained().await;
    let letters = daemon.wait_dead_letters().await;
    assert!(
        letters.iter().any(|letter| letter["identities"]
            .to_string()
            .contains(&EMAIL.to_lowercase())),
        "{letters:?}"
    );

    // Everything held about her, in one document.
    let export = admin(
        &daemon,
        reqwest::Method::GET,
        &format!("/api/v1/contacts/hubspot:{HUBSPOT_ID}/export"),
    )
    .await;
    assert_eq!(export.status(), 200);
    let export: serde_json::Value = export.json().await.expect("json");
    let identities = export["identities"].to_string();
    for id in [
        format!("email:{}", EMAIL.to_lowercase()),
        format!("hubspot:{HUBSPOT_ID}"),
        format!("anon:{ANONYMOUS}"),
    ] {
        assert!(identities.contains(&id), "{id} in {export}");
    }
    assert_eq!(export["profile"]["first_name"]["value"], FIRST, "{export}");
    assert_eq!(
        export["touches"].as_array().map(Vec::len),
        Some(2),
        "{export}"
    );
    assert!(
        export["touches"].to_string().contains("pricing"),
        "{export}"
    );
    assert!(export["scores"]["score"].is_number(), "{export}");
    assert!(export["pushed"]["score"].is_number(), "{export}");
    assert_eq!(export["dead_letters"].as_array().map(Vec::len), Some(1));
    // The export is the admin's alone.
    let viewerless = daemon
        .client
        .get(format!("{}/api/v1/contacts/{EMAIL}/export", daemon.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(viewerless.status(), 401);

    // Erased over HTTP.
    let path = format!("/api/v1/contacts/{}", EMAIL.to_lowercase());
    let unauthorized = daemon
        .client
        .delete(format!("{}{path}", daemon.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(unauthorized.status(), 401);
    let erased = admin(&daemon, reqwest::Method::DELETE, &path).await;
    assert_eq!(erased.status(), 200);
    let erased: serde_json::Value = erased.json().await.expect("json");
    assert!(
        erased["erased"].as_str().unwrap().starts_with("c_"),
        "{erased}"
    );
    assert_eq!(
        admin(&daemon, reqwest::Method::DELETE, &path)
            .await
            .status(),
        404
    );
    assert!(daemon.contact(EMAIL).await.is_none());
    assert!(daemon
        .contact(&format!("hubspot:{HUBSPOT_ID}"))
        .await
        .is_none());
    assert!(daemon.contact(&format!("anon:{ANONYMOUS}")).await.is_none());
    assert!(daemon.dead_letters().await.is_empty());

    // Later deliveries about her are dropped, and forgotten in the files too.
    daemon.touch(EMAIL, "page_view").await;
    assert_eq!(
        send(
            &daemon,
            &[event(
                91_003,
                HUBSPOT_ID,
                "contact.propertyChange",
                serde_json::json!({"propertyName": "firstname", "propertyValue": FIRST}),
            )]
        )
        .await
        .status(),
        200
    );
    daemon.drained().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while daemon
        .metrics()
        .await
        .contains("attentiond_inbox_pending 1")
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(daemon.contact(EMAIL).await.is_none());
    assert!(daemon
        .contact(&format!("hubspot:{HUBSPOT_ID}"))
        .await
        .is_none());
    let bob = daemon.contact("bob@example.net").await.expect("bob");

    let dir = daemon.stop();
    let mut needles = Vec::new();
    for text in [
        EMAIL.to_string(),
        HUBSPOT_ID.to_string(),
        ANONYMOUS.to_string(),
        FIRST.to_string(),
        LAST.to_string(),
        PHONE.to_string(),
        TITLE.to_string(),
        // As a form or a URL would carry them.
        "Zelda.Quintero%40Example.org".to_string(),
        "%2B1+555+0199+321".to_string(),
    ] {
        needles.push(text.to_lowercase());
        needles.push(text);
    }
    let store = dir.path().join("data");
    assert!(store.join("db").exists());
    let left = files_holding(&store, &needles);
    assert!(left.is_empty(), "{left:#?}");
    // The files are read: what is not personal (source names in keys) is found.
    assert!(!files_holding(&store, &["hubspot".to_string()]).is_empty());

    // Others are unaffected after a restart, over HTTP and through the CLI.
    let config = write_config(dir.path(), &sink(&fake));
    let (code, out, err) = run_attentiond(
        &[
            "--config",
            config.to_str().unwrap(),
            "export",
            "bob@example.net",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let exported: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(exported["contact"], bob["id"], "{out}");
    assert_eq!(exported["touches"].as_array().map(Vec::len), Some(1));
    let (code, _, err) = run_attentiond(
        &["--config", config.to_str().unwrap(), "export", EMAIL],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    let daemon = Daemon::start_in(dir, &sink(&fake));
    daemon.drained().await;
    let again = daemon.contact("bob@example.net").await.expect("bob");
    assert_eq!(again["id"], bob["id"]);
    assert_eq!(again["touch_count"], 1);
    assert!(daemon.contact(EMAIL).await.is_none());
}

#[tokio::test]
async fn attentiond_erase_forgets_a_person_in_a_stopped_store() {
    let daemon = Daemon::start("");
    daemon
        .touch("ann.erasable@example.com", "webinar_attended")
        .await;
    daemon
        .touch("keep.me@example.com", "webinar_attended")
        .await;
    daemon.drained().await;
    let dir = daemon.stop();
    let config = write_config(dir.path(), "");
    let config = config.to_str().unwrap();
    let (code, out, err) = run_attentiond(
        &["--config", config, "erase", "ann.erasable@example.com"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"erased\""), "{out}");
    let (code, _, _) = run_attentiond(
        &["--config", config, "erase", "ann.erasable@example.com"],
        &[],
    );
    assert_eq!(code, 1);
    let left = files_holding(
        &dir.path().join("data"),
        &[
            "ann.erasable@example.com".to_string(),
            "ann.erasable".to_string(),
        ],
    );
    assert!(left.is_empty(), "{left:#?}");
    let (code, out, err) =
        run_attentiond(&["--config", config, "export", "keep.me@example.com"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("keep.me@example.com"), "{out}");
}
