//! Outcomes linked to who engaged: the standard source's `outcome`, `attentiond
//! import`, and an opportunity's outcomes kept under its people and accounts.

use crate::harness::*;
use serde_json::{json, Value};

async fn admin(daemon: &Daemon, path: &str) -> Value {
    daemon.admin_get(path).await
}

fn kinds(outcomes: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = outcomes
        .as_array()
        .expect("outcomes array")
        .iter()
        .map(|o| {
            format!(
                "{}@{}",
                o["kind"].as_str().unwrap(),
                o["opportunity"].as_str().unwrap_or("")
            )
        })
        .collect();
    kinds.sort();
    kinds
}

fn outcome_body(opportunity: &str, kind: &str, at: &str, data: Value) -> String {
    let mut body = json!({"type": "outcome", "data": {"opportunity": opportunity, "kind": kind, "occurred_at": at}});
    for (key, value) in data.as_object().unwrap() {
        body["data"][key] = value.clone();
    }
    body.to_string()
}

#[tokio::test]
async fn an_outcome_lives_under_its_opportunity_people_and_account() {
    let daemon = Daemon::start("");
    let created = outcome_body(
        "opp-17",
        "opportunity_created",
        &rfc3339_from_now(-86_400),
        json!({"emails": ["ann@acme.com"], "account": "domain:acme.com", "amount": 42000, "currency": "EUR"}),
    );
    assert_eq!(daemon.post_site("out-1", &created).await.status(), 200);
    // Bo joins the deal later: he gets its earlier outcome, and both get the next.
    let joined = outcome_body(
        "opp-17",
        "stage_changed",
        &rfc3339_from_now(-3_600),
        json!({"emails": ["bo@acme.com"], "stage": "proposal"}),
    );
    assert_eq!(daemon.post_site("out-2", &joined).await.status(), 200);
    let won = outcome_body(
        "opp-17",
        "won",
        &now_rfc3339(),
        json!({"account": "domain:acme.com"}),
    );
    assert_eq!(daemon.post_site("out-3", &won).await.status(), 200);
    // The same delivery again changes nothing.
    assert_eq!(daemon.post_site("out-3", &won).await.status(), 200);

    let expected = vec![
        "opportunity_created@opp-17".to_string(),
        "stage_changed@opp-17".to_string(),
        "won@opp-17".to_string(),
    ];
    for person in ["ann@acme.com", "bo@acme.com"] {
        let view = daemon
            .wait_contact(person, |v| {
                v["outcomes"].as_array().is_some_and(|o| o.len() == 3)
            })
            .await;
        assert_eq!(kinds(&view["outcomes"]), expected, "{person}");
    }
    let deal = admin(&daemon, "outcomes?opportunity=opp-17").await;
    assert_eq!(kinds(&deal["outcomes"]), expected);
    let account = admin(&daemon, "outcomes?account=domain:acme.com").await;
    assert_eq!(kinds(&account["outcomes"]), expected);
    let ann = daemon.contact("ann@acme.com").await.unwrap();
    let created = ann["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "opportunity_created")
        .unwrap()
        .clone();
    assert_eq!(
        (created["amount"].as_f64(), created["currency"].as_str()),
        (Some(42000.0), Some("EUR"))
    );
}

#[tokio::test]
async fn a_malformed_outcome_is_refused_and_stores_nothing() {
    let daemon = Daemon::start("");
    let nobody = outcome_body("opp-9", "won", &now_rfc3339(), json!({}));
    let (status, detail) = problem(daemon.post_site("bad-1", &nobody).await).await;
    assert_eq!(status, 400);
    assert!(detail.contains("data.emails or data.account"), "{detail}");
    let listed = admin(&daemon, "outcomes?opportunity=opp-9").await;
    assert_eq!(listed["outcomes"], json!([]));
}

fn write_config(dir: &std::path::Path) -> String {
    let path = dir.join("attentiond.toml");
    std::fs::write(&path, config_text(dir, "")).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test]
async fn an_import_twice_counts_once_and_links_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let day = |days: i64| rfc3339_from_now(-days * 86_400);
    let mut lines = vec![
        json!({"id": "t1", "type": "touch", "data": {"email": "cy@initech.com", "kind": "webinar_attended", "occurred_at": day(20)}}),
        json!({"id": "t2", "type": "touch", "data": {"email": "cy@initech.com", "kind": "pricing_view", "occurred_at": day(12)}}),
        json!({"id": "t3", "type": "touch", "data": {"email": "di@initech.com", "kind": "form_submit", "occurred_at": day(11)}}),
        json!({"type": "profile", "data": {"email": "cy@initech.com", "fields": {"title": "CTO"}, "occurred_at": day(30)}}),
        json!({"id": "o1", "type": "outcome", "data": {"opportunity": "sf-1", "kind": "opportunity_created", "occurred_at": day(5), "emails": ["cy@initech.com", "di@initech.com"], "account": "domain:initech.com", "amount": 9000}}),
    ]
    .into_iter()
    .map(|line| line.to_string())
    .collect::<Vec<_>>();
    lines.insert(2, String::new());
    let file = dir.path().join("history.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let file = file.to_str().unwrap();

    let (code, stdout, stderr) = run_attentiond(&["--config", &config, "import", file], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("5 lines, 5 new events, 0 already known"),
        "{stdout}"
    );
    let (code, stdout, stderr) = run_attentiond(&["--config", &config, "import", file], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("5 lines, 0 new events, 5 already known"),
        "{stdout}"
    );

    // A bad line is named; what came before it stays imported.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        format!("{}\n{{\"type\":\"touch\",\"data\":{{}}}}\n", lines[0]),
    )
    .unwrap();
    let (code, _, stderr) =
        run_attentiond(&["--config", &config, "import", bad.to_str().unwrap()], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("line 2"), "{stderr}");

    let daemon = Daemon::start_in(dir, "");
    let cy = daemon
        .wait_contact("cy@initech.com", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(
        kinds(&cy["outcomes"]),
        vec!["opportunity_created@sf-1".to_string()]
    );
    assert_eq!(cy["profile"]["title"]["value"], "CTO");
    let di = daemon.contact("di@initech.com").await.unwrap();
    assert_eq!(di["touch_count"], 1);
    assert_eq!(
        kinds(&di["outcomes"]),
        vec!["opportunity_created@sf-1".to_string()]
    );

    // While the daemon holds the store, the import says what to do.
    let config = daemon.dir.path().join("attentiond.toml");
    let (code, _, stderr) = run_attentiond(
        &[
            "--config",
            config.to_str().unwrap(),
            "import",
            daemon.dir.path().join("history.jsonl").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("daemon holds the store") && stderr.contains("stop it"),
        "{stderr}"
    );
}
