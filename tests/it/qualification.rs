//! Qualification from the outside: a scripted week for a buying group of five at one
//! account and a lone heavy clicker elsewhere; rescore after a scoring change; explain.

use crate::fake_hubspot::FakeHubspot;
use crate::harness::*;
use crate::sink_scenarios::CrmUnderTest;

fn sink(fake: &FakeHubspot) -> String {
    fake.config("flush_interval_ms = 100")
}

fn days_ago(days: f64) -> String {
    (chrono::Utc::now() - chrono::Duration::milliseconds((days * 86_400_000.0) as i64))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn profile(daemon: &Daemon, id: &str, email: &str, account: &str, fields: serde_json::Value) {
    let body = serde_json::json!({"type": "profile", "data": {
        "email": email, "account": account, "fields": fields}})
    .to_string();
    assert_eq!(daemon.post_site(id, &body).await.status(), 200);
}

async fn touch(daemon: &Daemon, id: &str, email: &str, account: &str, kind: &str, days: f64) {
    let body = serde_json::json!({"type": "touch", "data": {
        "email": email, "kind": kind, "occurred_at": days_ago(days), "account": account}})
    .to_string();
    assert_eq!(daemon.post_site(id, &body).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buying_group_outranks_a_lone_clicker_and_reps_see_it_in_hubspot() {
    let fake = FakeHubspot::start();
    // The account line changes with each person who engages; members who did
    // nothing themselves get each change at most once a second here, an hour by
    // default.
    let daemon = Daemon::start(&format!(
        "{}\n[scoring.accounts]\nmember_line_interval_secs = 1\n",
        sink(&fake)
    ));
    let acme = "hubspot-company:100";
    let solo = "hubspot-company:200";
    let group = [
        ("vp@acme.io", "VP Engineering"),
        ("eng@acme.io", "Senior Engineer"),
        ("mgr@acme.io", "Engineering Manager"),
        ("cfo@acme.io", "CFO"),
        ("it@acme.io", "IT Director"),
    ];
    for (i, (email, title)) in group.iter().enumerate() {
        profile(
            &daemon,
            &format!("p{i}"),
            email,
            acme,
            serde_json::json!({"title": title, "company": "Acme", "employees": 500, "industry": "fintech"}),
        )
        .await;
    }
    // The week, oldest first: each person a few meaningful touches.
    let week = [
        ("vp@acme.io", "webinar_attended", 6.0),
        ("mgr@acme.io", "webinar_registered", 5.0),
        ("eng@acme.io", "content_download", 4.0),
        ("vp@acme.io", "pricing_view", 3.0),
        ("it@acme.io", "call", 3.0),
        ("eng@acme.io", "form_submit", 2.0),
        ("cfo@acme.io", "pricing_view", 2.0),
        ("vp@acme.io", "demo_request", 1.0),
        ("mgr@acme.io", "email_reply", 1.0),
        ("it@acme.io", "chat", 1.0),
        ("cfo@acme.io", "email_click", 0.2),
        ("vp@acme.io", "meeting_booked", 0.1),
    ];
    for (i, (email, kind, days)) in week.iter().enumerate() {
        touch(&daemon, &format!("w{i}"), email, acme, kind, *days).await;
    }
    // One person clicking everything, every day of the same week.
    let mut n = 0;
    for day in 0..7 {
        for kind in [
            "email_click",
            "email_click",
            "email_click",
            "email_open",
            "email_open",
            "pricing_view",
            "content_download",
            "page_view",
        ] {
            touch(
                &daemon,
                &format!("solo{n}"),
                "solo@solo.io",
                solo,
                kind,
                6.5 - day as f64,
            )
            .await;
            n += 1;
        }
    }
    daemon.drained().await;

    let vp = daemon.contact("vp@acme.io").await.unwrap();
    assert_eq!(vp["fit_grade"], "A", "{vp}");
    assert_eq!(vp["qualification_stage"], "sales_ready", "{vp}");
    assert_eq!(vp["attention_matrix"], "A1");
    assert!(vp["attention_velocity"].as_f64().unwrap() > 0.0);
    assert!(vp["reasons"][0]
        .as_str()
        .unwrap()
        .starts_with("VP Engineering at a 500-person fintech (A)"));
    assert_eq!(vp["reasons"][1], "5 people from Acme engaged this week");
    let history = vp["stage_history"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["to"], "sales_ready");
    for (email, _) in &group[1..] {
        let person = daemon.contact(email).await.unwrap();
        assert_eq!(person["qualification_stage"], "engaged", "{person}");
    }

    let lone = daemon.contact("solo@solo.io").await.unwrap();
    assert!(lone["score"].as_u64().unwrap() > vp["score"].as_u64().unwrap() - 20);
    // No title or company known: neutral fit C, so the clicker stops at mql.
    assert_eq!(lone["fit_grade"], "C");
    // Alone at their company: nothing about the account in their reasons.
    assert!(
        !lone["reasons"].to_string().contains("engaged this week"),
        "{lone}"
    );
    assert_eq!(lone["qualification_stage"], "mql", "{lone}");
    assert!(lone["attention_matrix"].as_str().unwrap().starts_with('C'));

    let acme_view = daemon.account(acme).await;
    let solo_view = daemon.account(solo).await;
    assert_eq!(acme_view["people_engaged"], 5);
    assert_eq!(
        acme_view["roles_covered"],
        serde_json::json!(["champion", "decision_maker", "finance", "technical"])
    );
    assert_eq!(solo_view["people_engaged"], 1);
    assert!(
        acme_view["score"].as_u64().unwrap() > solo_view["score"].as_u64().unwrap() + 20,
        "breadth wins: {acme_view} vs {solo_view}"
    );
    assert_eq!(acme_view["members"][0]["email"], "vp@acme.io");

    // What reps see in HubSpot.
    fake.wait_for("both companies and the VP written", |f| {
        f.company("100")
            .is_some_and(|c| c["attention_people_engaged"] == "5")
            && f.company("200").is_some()
            && f.contact("vp@acme.io")
                .is_some_and(|c| c["attention_qualification_stage"] == "sales_ready")
    })
    .await;
    let score = |id: &str| -> u64 {
        fake.company(id).unwrap()["attention_score"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(score("100"), acme_view["score"].as_u64().unwrap());
    assert!(score("100") > score("200"));
    let vp_written = fake.contact("vp@acme.io").unwrap();
    assert_eq!(vp_written["attention_matrix"], "A1");
    assert_eq!(vp_written["attention_fit_grade"], "A");
    assert_eq!(
        vp_written["attention_stage_changed_at"],
        vp["stage_changed_at"]
    );
    // The engineer's last touch came before three colleagues engaged, and the
    // account line in their record still moved on to five.
    fake.wait_for("every member's reasons name the whole group", |f| {
        group.iter().all(|(email, _)| {
            f.contact(email).is_some_and(|c| {
                c["attention_reasons"]
                    .as_str()
                    .is_some_and(|r| r.contains("5 people from Acme engaged this week"))
            })
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_weight_rescores_at_start_and_pushes_the_new_values() {
    let fake = FakeHubspot::start();
    let daemon = Daemon::start(&sink(&fake));
    daemon
        .post_site(
            "rs-1",
            &touch_body("rescore@example.com", "form_submit", &now_rfc3339()),
        )
        .await;
    fake.wait_for("first push", |f| f.contact("rescore@example.com").is_some())
        .await;
    let before = daemon.contact("rescore@example.com").await.unwrap();
    assert!((before["raw"].as_f64().unwrap() - 10.0).abs() < 0.01);
    let dir = daemon.stop();

    // The admin triples the weight of a form submit and restarts.
    let changed = format!("{}\n[scoring.weights]\nform_submit = 30\n", sink(&fake));
    let daemon = Daemon::start_in(dir, &changed);
    let after = daemon
        .wait_contact("rescore@example.com", |v| {
            (v["raw"].as_f64().unwrap() - 30.0).abs() < 0.05
        })
        .await;
    assert!(after["score"].as_u64().unwrap() > before["score"].as_u64().unwrap());
    assert_eq!(after["touches"][0]["weight"], 30.0);
    let expected = after["score"].to_string();
    fake.wait_for("the rescored value pushed", |f| {
        f.contact("rescore@example.com")
            .is_some_and(|c| c["attention_score"].as_str() == Some(expected.as_str()))
    })
    .await;

    // `explain` prints the calculation with the new weight, the fit and the stage.
    let dir = daemon.stop();
    let config = dir.path().join("attentiond.toml");
    std::fs::write(&config, config_text(dir.path(), &changed)).unwrap();
    let (code, stdout, stderr) = run_attentiond(
        &[
            "--config",
            config.to_str().unwrap(),
            "explain",
            "rescore@example.com",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    for needle in [
        "form_submit",
        " 30.00 × ",
        &format!("→ score {}", after["score"]),
        "Fit C",
        "missing (neutral until known): title, company",
        "rule that fired:",
    ] {
        assert!(stdout.contains(needle), "{needle}\n{stdout}");
    }
    // `attentiond rescore` recomputes on demand, the daemon being stopped.
    let (code, stdout, stderr) =
        run_attentiond(&["--config", config.to_str().unwrap(), "rescore"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("rescored 1 contacts from 1 touches"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_account_answers_to_the_domain_its_reasons_name() {
    let daemon = Daemon::start("");
    for (i, email) in ["ann@globex.com", "bo@Globex.com"].iter().enumerate() {
        let body = touch_body(email, "pricing_view", &now_rfc3339());
        assert_eq!(
            daemon.post_site(&format!("g{i}"), &body).await.status(),
            200
        );
    }
    daemon.drained().await;
    let ann = daemon.contact("ann@globex.com").await.unwrap();
    assert_eq!(ann["account_key"], "domain:globex.com");
    assert!(
        ann["reasons"]
            .to_string()
            .contains("2 people from globex.com"),
        "{ann}"
    );

    for key in ["domain:globex.com", "globex.com", "GLOBEX.com"] {
        let view = daemon.account(key).await;
        assert_eq!(view["key"], "domain:globex.com", "{key}: {view}");
        assert_eq!(view["people_engaged"], 2, "{key}: {view}");
    }
    let missing = reqwest::Client::new()
        .get(format!("{}/api/v1/accounts/initech.com", daemon.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let (status, detail) = problem(missing).await;
    assert_eq!(status, 404);
    assert!(detail.contains("initech.com"), "{detail}");
}
