//! Upgrading: the daemon opens a store the previous release wrote (JSON records, see
//! `stores/json-records/README.md`), serves everything it acknowledged, still knows
//! which deliveries it has seen, and carries on in the new record format.

use crate::harness::*;
use serde_json::{json, Value};

fn old_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("blobs")).expect("store dir");
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/stores/json-records");
    for file in ["conf", "db"] {
        std::fs::copy(fixture.join(file), data.join(file)).expect("copy the old store");
    }
    dir
}

/// (id, kind, occurred_at, weight) of each touch, newest first, as the old release listed them.
fn touches(contact: &Value) -> Vec<(String, String, String, f64)> {
    contact["touches"]
        .as_array()
        .expect("touches")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default().to_string(),
                t["kind"].as_str().unwrap_or_default().to_string(),
                t["occurred_at"].as_str().unwrap_or_default().to_string(),
                t["weight"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

fn listed(rows: &[(&str, &str, &str, f64)]) -> Vec<(String, String, String, f64)> {
    rows.iter()
        .map(|(id, kind, at, weight)| (id.to_string(), kind.to_string(), at.to_string(), *weight))
        .collect()
}

fn check_what_the_old_release_stored(ann: &Value, bo: &Value, cy: &Value) {
    assert_eq!(ann["id"], "c_0");
    assert_eq!(ann["account_key"], "hubspot-company:42");
    assert_eq!(ann["fit_grade"], "A", "{ann}");
    assert_eq!(ann["profile"]["title"]["value"], "VP Engineering");
    assert_eq!(ann["profile"]["employees"]["value"], "500");
    // The stages it went through under the old release stay in the history.
    let history = ann["stage_history"].as_array().expect("history");
    assert_eq!(
        (&history[0]["to"], &history[0]["at"]),
        (&json!("new"), &json!("2026-12-06T08:15:34.298Z"))
    );
    assert_eq!(
        (&history[1]["to"], &history[1]["reason"]),
        (&json!("mql"), &json!("score 56 ≥ 45 with fit A"))
    );

    assert_eq!(bo["id"], "c_1");
    assert_eq!(bo["fit_grade"], "B", "{bo}");
    // Newest first, so the old touches close the list once new ones arrive.
    assert!(touches(bo).ends_with(&listed(&[(
        "67cd3ba7d2630d78",
        "form_submit",
        "2026-12-03T11:00:00.000Z",
        10.0
    )])));

    // The anonymous visitor's touches followed the identify into cy's record.
    assert_eq!(cy["id"], "c_2");
    assert_eq!(cy["anonymous_ids"], json!(["visitor-9"]));
    // A colleague of the same domain was in HubSpot company 42: cy, known only by
    // email, is in that buying group too.
    assert_eq!(cy["account_key"], "hubspot-company:42");
    assert_eq!(
        touches(cy),
        listed(&[
            (
                "15813a260c8c2547",
                "pricing_view",
                "2026-12-02T12:05:00.000Z",
                5.0
            ),
            (
                "94629822e5768149",
                "page_view",
                "2026-12-02T12:00:00.000Z",
                1.0
            ),
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_the_json_release_is_served_and_carried_on() {
    let daemon = Daemon::start_in(old_store(), "");
    let ann = daemon.contact("ann@acme.io").await.expect("ann");
    let bo = daemon.contact("bo@acme.io").await.expect("bo");
    let cy = daemon
        .contact("anon:visitor-9")
        .await
        .expect("cy by the visitor id");
    check_what_the_old_release_stored(&ann, &bo, &cy);
    let old_ann = [
        (
            "b82b504172b04911",
            "email_open",
            "2026-12-03T08:00:00.000Z",
            1.0,
        ),
        (
            "317096a38d0ef8f9",
            "meeting_booked",
            "2026-12-02T15:30:00.000Z",
            20.0,
        ),
        (
            "9c8354084bde2f82",
            "pricing_view",
            "2026-12-01T10:00:00.000Z",
            5.0,
        ),
    ];
    assert_eq!(touches(&ann), listed(&old_ann));

    // A retry of a delivery the old release acknowledged is still a duplicate.
    let retry = json!({"type": "touch", "data": {"email": "ann@acme.io",
        "kind": "meeting_booked", "occurred_at": "2026-12-02T15:30:00Z"}})
    .to_string();
    let answer = daemon.post_site("old-t2", &retry).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"status": "duplicate"})
    );

    // New touches join the old ones: Ann and Bo engage this week, and Cy, at Acme's
    // domain, counts in Acme's buying group with her visit of this week.
    for (id, email) in [("new-1", "ann@acme.io"), ("new-2", "bo@acme.io")] {
        let body = touch_body(email, "pricing_view", &now_rfc3339());
        let answer = daemon.post_site(id, &body).await;
        assert_eq!(
            answer.json::<Value>().await.unwrap(),
            json!({"status": "accepted"})
        );
    }
    // A new person gets a new contact, not one of the old ones.
    let body = touch_body("dee@initech.com", "form_submit", &now_rfc3339());
    assert_eq!(daemon.post_site("new-3", &body).await.status(), 200);
    daemon.drained().await;

    let ann = daemon.contact("ann@acme.io").await.expect("ann");
    assert_eq!(ann["touch_count"], 4, "{ann}");
    assert_eq!(touches(&ann)[1..], listed(&old_ann)[..]);
    // Cy counts while her visit is within the last seven calendar days.
    let cy = daemon.contact("cy@acme.io").await.expect("cy");
    let cy_day = chrono::DateTime::parse_from_rfc3339(cy["last_touch_at"].as_str().unwrap())
        .unwrap()
        .date_naive();
    let this_week = (chrono::Utc::now().date_naive() - cy_day).num_days() <= 6;
    let engaged = if this_week { 3 } else { 2 };
    assert_eq!(
        ann["reasons"][1],
        format!("{engaged} people from Acme engaged this week"),
        "{ann}"
    );
    let dee = daemon.contact("dee@initech.com").await.expect("dee");
    assert!(
        !["c_0", "c_1", "c_2"].contains(&dee["id"].as_str().unwrap_or_default()),
        "{dee}"
    );

    // After a restart everything reads back, old records and new ones alike.
    let dir = daemon.stop();
    let daemon = Daemon::start_in(dir, "");
    let ann = daemon.contact("ann@acme.io").await.expect("ann");
    let bo = daemon.contact("bo@acme.io").await.expect("bo");
    let cy = daemon.contact("cy@acme.io").await.expect("cy");
    check_what_the_old_release_stored(&ann, &bo, &cy);
    assert_eq!(ann["touch_count"], 4);
    assert_eq!(touches(&ann)[1..], listed(&old_ann)[..]);
    assert_eq!(bo["touch_count"], 2);
    let answer = daemon
        .post_site(
            "old-t4",
            &touch_body("bo@acme.io", "form_submit", "2026-12-03T11:00:00Z"),
        )
        .await;
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"status": "duplicate"})
    );
}
