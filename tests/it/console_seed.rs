//! A daemon with people, accounts and a dead letter to look at: what the console
//! tests walk through.

use crate::fake_crm::Answer;
use crate::fake_hubspot::FakeHubspot;
use crate::harness::{config_text, rfc3339_from_now, touch_body, Daemon};
use crate::sink_scenarios::CrmUnderTest;
use attentiond::config::Config;

pub const VIEWER_TOKEN: &str = "test-viewer-token";
pub const PERSON: &str = "ann@acme.com";
/// Touches of the person inside the chart's 90 days (one more is older).
pub const PERSON_MARKS: usize = 4;
pub const ACCOUNT: &str = "domain:acme.com";

/// The test config with a viewer token and `extra` TOML.
pub fn config(dir: &std::path::Path, extra: &str) -> Config {
    let text = config_text(dir, extra).replace(
        "max_body_bytes = 65536",
        &format!("max_body_bytes = 65536\nviewer_tokens = [\"{VIEWER_TOKEN}\"]"),
    );
    Config::from_toml(&text).expect("console test config")
}

pub fn start(extra: &str) -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), extra);
    Daemon::start_with(dir, config)
}

async fn send(daemon: &Daemon, body: serde_json::Value) {
    let id = crate::harness::delivery_id("console");
    let status = daemon.post_site(&id, &body.to_string()).await.status();
    assert_eq!(status, 200, "{body}");
}

async fn touch(daemon: &Daemon, email: &str, kind: &str, days_ago: i64) {
    let body = touch_body(email, kind, &rfc3339_from_now(-days_ago * 86_400 - 60));
    let status = daemon
        .post_site(&crate::harness::delivery_id("console"), &body)
        .await
        .status();
    assert_eq!(status, 200, "{email} {kind}");
}

/// Four people at two accounts and one elsewhere, with profiles and touches over
/// four months.
pub async fn people(daemon: &Daemon) {
    for (email, first, last, title) in [
        (PERSON, "Ann", "Lee", "VP Engineering"),
        ("bob@acme.com", "Bob", "Stone", "Finance Controller"),
        ("cy@globex.com", "Cy", "Park", "Engineer"),
    ] {
        send(
            daemon,
            serde_json::json!({"type": "profile", "data": {"email": email, "fields": {
                "first_name": first, "last_name": last, "title": title, "company": "Acme"}}}),
        )
        .await;
    }
    for (kind, days) in [
        ("form_submit", 120),
        ("form_submit", 40),
        ("email_click", 20),
        ("pricing_view", 3),
        ("meeting_booked", 1),
    ] {
        touch(daemon, PERSON, kind, days).await;
    }
    touch(daemon, "bob@acme.com", "webinar_attended", 2).await;
    touch(daemon, "bob@acme.com", "content_download", 1).await;
    touch(daemon, "cy@globex.com", "email_open", 70).await;
    touch(daemon, "cy@globex.com", "page_view", 60).await;
    touch(daemon, "dee@initech.io", "email_open", 30).await;
    daemon.drained().await;
}

/// A daemon whose HubSpot refuses every write for its first seconds: the four
/// people it was sent then are parked.
pub async fn with_a_dead_letter() -> (FakeHubspot, Daemon) {
    let fake = FakeHubspot::start();
    fake.outage(
        std::time::Duration::from_secs(5),
        Answer::json(
        400,
            serde_json::json!({"status": "error", "message": "Property values were not valid: attention_score does not exist", "correlationId": "c-1", "category": "VALIDATION_ERROR"}),
        ),
    );
    let daemon = start(&fake.config("flush_interval_ms = 100\nmax_attempts = 1"));
    people(&daemon).await;
    // All four people were queued during the outage: all four are parked.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while daemon.wait_dead_letters().await.len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "not everyone was parked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    (fake, daemon)
}
