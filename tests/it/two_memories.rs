//! A score with a short memory beside the long one, as an operator configures it:
//! every touch counts at both, the contact and `explain` show each part touch by
//! touch, and a short weight below 0 is refused.

use crate::harness::*;

const SHORT_MEMORY: &str = "
[scoring.short_memory]
half_life_days = 3.0

[scoring.short_memory.weights]
demo_request = 30.0
";

#[tokio::test]
async fn a_recent_demo_request_counts_at_both_memories_and_explain_shows_each_part() {
    let daemon = Daemon::start(SHORT_MEMORY);
    let body = touch_body(
        "ann@acme.io",
        "demo_request",
        &rfc3339_from_now(-3 * 86_400),
    );
    assert_eq!(
        daemon.post_site(&delivery_id("demo"), &body).await.status(),
        200
    );
    // Three days on: 20 × ½^(3/14) + 30 × ½^(3/3) = 17.24 + 15.00 = 32.24, a score
    // of 100 × (1 − e^(−32.24 / 25)) = 72. With one memory it would read 17.24: 50.
    let view = daemon
        .wait_contact("ann@acme.io", |v| v["touch_count"] == 1)
        .await;
    let raw = view["raw"].as_f64().unwrap();
    assert!((raw - 32.24).abs() < 0.01, "{view}");
    assert_eq!(view["score"], 72);
    let touch = &view["touches"][0];
    assert_eq!(
        (touch["weight"].as_f64(), touch["short_weight"].as_f64()),
        (Some(50.0), Some(30.0))
    );

    let explained = daemon
        .client
        .get(format!(
            "{}/api/v1/contacts/ann@acme.io/explain",
            daemon.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        explained.contains("(half-life 14 days, short memory 3 days, score scale 25)"),
        "{explained}"
    );
    assert!(
        explained
            .contains("demo_request       site          20.00 × 0.862 +  30.00 × 0.500 =  32.24"),
        "{explained}"
    );
    assert!(explained.contains("raw 32.24 → score 72"), "{explained}");
}

#[test]
fn a_penalty_with_a_short_memory_is_refused_by_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[scoring.short_memory.weights]\nunsubscribe = -10.0\n",
    );
    let (code, stdout, stderr) =
        run_attentiond(&["--config", config.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stderr.contains("scoring.short_memory.weights.unsubscribe"),
        "{stderr}"
    );
    assert!(stderr.contains("a short memory holds rewards"), "{stderr}");
}

#[tokio::test]
async fn an_account_counts_each_members_short_memory_beside_the_long_one() {
    let daemon = Daemon::start(SHORT_MEMORY);
    for (n, email) in ["ann@acme.io", "bob@acme.io"].into_iter().enumerate() {
        let body = touch_body(email, "demo_request", &rfc3339_from_now(-3 * 86_400));
        let id = delivery_id(&format!("demo-{n}"));
        assert_eq!(daemon.post_site(&id, &body).await.status(), 200);
    }
    daemon
        .wait_contact("bob@acme.io", |v| v["touch_count"] == 1)
        .await;
    daemon.drained().await;
    // Each member counts a root per memory: 100 × √(17.24 / 25) + 100 × √(15 / 25)
    // = 83.04 + 77.46 = 160.50; two of them 321.00, no roles known, an account score
    // of 100 × (1 − e^(−321.00 / 150)) = 88. With one memory: 166.08, 67.
    let account = daemon.account("acme.io").await;
    let raw = account["raw"].as_f64().unwrap();
    assert!((raw - 321.0).abs() < 0.1, "{account}");
    assert_eq!(account["score"], 88, "{account}");
    // Members show the score their own page shows, both memories in it.
    for member in account["members"].as_array().unwrap() {
        assert_eq!(member["score"], 72, "{account}");
    }
}
