//! Learning from revenue, as an operator runs it: a simulated market with known
//! truth is imported, `attentiond learn` suggests weights that rank the true drivers
//! first and predict better than the current scoring, `--apply` puts them in force
//! (the daemon shows them), `--revert` goes back.

use crate::harness::*;

fn learn(config: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--config", config, "learn", "--bootstrap", "3"];
    all.extend_from_slice(args);
    run_attentiond(&all, &[])
}

/// A console page, signed in as the admin: its status and text.
async fn console_page(daemon: &Daemon, path: &str) -> (u16, String) {
    let (cookie, _) = crate::console_security::sign_in(daemon, ADMIN_TOKEN, &[]).await;
    let answer = daemon
        .client
        .get(format!("{}{path}", daemon.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

async fn model(daemon: &Daemon) -> serde_json::Value {
    daemon
        .client
        .get(format!("{}/api/v1/model", daemon.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn learned_weights_are_suggested_applied_and_reverted() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("attentiond.toml");
    std::fs::write(&config, config_text(dir.path(), "")).unwrap();
    let config = config.to_str().unwrap().to_string();
    let market = dir.path().join("market.jsonl");
    let market = market.to_str().unwrap();

    // Too little history: a refusal that says how much is needed.
    let (code, _, _) = run_attentiond(
        &[
            "simulate",
            "--out",
            market,
            "--accounts",
            "3",
            "--days",
            "60",
        ],
        &[],
    );
    assert_eq!(code, 0);
    let (code, _, stderr) = run_attentiond(&["--config", &config, "import", market], &[]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = learn(&config, &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("needs at least 30"), "{stderr}");

    let (code, _, _) = run_attentiond(
        &[
            "simulate",
            "--out",
            market,
            "--accounts",
            "70",
            "--days",
            "300",
            "--seed",
            "11",
        ],
        &[],
    );
    assert_eq!(code, 0);
    let (code, _, stderr) = run_attentiond(&["--config", &config, "import", market], &[]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = learn(&config, &["--json"]);
    assert_eq!(code, 0, "{stderr}");
    let json_end = stdout.rfind('}').unwrap() + 1;
    let suggestion: serde_json::Value = serde_json::from_str(&stdout[..json_end]).unwrap();
    // What a fresh touch counts: the long weight and the short one, if any.
    let weight = |kind: &str| {
        let w = suggestion["weights"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["kind"] == kind)
            .unwrap();
        w["weight"].as_f64().unwrap() + w["short"].as_f64().unwrap()
    };
    // The simulator's journeys outweigh the newsletters heavy readers open.
    assert!(
        weight("pricing_view") > weight("email_open"),
        "{suggestion}"
    );
    assert!(
        weight("content_download") > weight("email_open"),
        "{suggestion}"
    );
    let people = &suggestion["people"];
    assert!(
        people["learned"]["auc"].as_f64().unwrap() > people["current"]["auc"].as_f64().unwrap(),
        "{people}"
    );
    // Validation is newer than all training: a time split.
    assert!(
        suggestion["window"]["validate_from"].as_str().unwrap()
            > suggestion["window"]["train_to"].as_str().unwrap()
    );
    assert!(stdout.contains("nothing applied"), "{stdout}");

    let (code, stdout, stderr) = learn(&config, &["--apply"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("applied as scoring version 1"), "{stdout}");

    let daemon = Daemon::start_in(dir, "");
    let shown = model(&daemon).await;
    assert_eq!(shown["active"], 1, "{shown}");
    assert!(shown["metrics"]["people"]["learned"]["auc"].is_number());
    assert_eq!(shown["history"].as_array().unwrap().len(), 1);
    // The version holds the memories the suggestion had: a short one too, if chosen.
    let learned = &shown["history"][0]["learned"];
    assert_eq!(
        learned["short_half_life_days"],
        suggestion["short_half_life_days"]
    );
    assert_eq!(
        learned["short_weights"].as_object().unwrap().is_empty(),
        suggestion["short_half_life_days"].is_null(),
        "{learned}"
    );
    let applied_half_life = shown["half_life_days"].as_f64().unwrap();
    // The console's scoring page shows the version in force, its validation and the
    // report.
    let (status, scoring) = console_page(&daemon, "/scoring").await;
    assert_eq!(status, 200);
    assert!(scoring.contains("learned version 1, applied"), "{scoring}");
    assert!(
        scoring.contains(&shown["scoring_version"].as_str().unwrap().to_string()),
        "{scoring}"
    );
    let auc = format!(
        "{:.3}",
        shown["metrics"]["people"]["learned"]["auc"]
            .as_f64()
            .unwrap()
    );
    assert!(scoring.contains(&auc), "{auc} in {scoring}");
    assert!(scoring.contains("href=\"/scoring/report\""), "{scoring}");
    let (status, report) = console_page(&daemon, "/scoring/report").await;
    assert_eq!(status, 200);
    assert!(report.contains("<h1>Attention and pipeline</h1>"));
    assert!(
        report.contains("learned"),
        "the report draws the learned score"
    );
    let dir = daemon.stop();

    let (code, stdout, stderr) = learn(&config, &["--revert"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("configuration is in force"), "{stdout}");
    let daemon = Daemon::start_in(dir, "");
    let shown = model(&daemon).await;
    assert!(shown["active"].is_null(), "{shown}");
    assert_eq!(shown["half_life_days"], 14.0);
    assert_eq!(shown["weights"]["demo_request"], 20.0);
    assert!(shown["history"][0]["reverted_at"].is_number());
    // The applied version was the learned one, not the baseline.
    assert!(applied_half_life > 0.0);
}
