//! The binary as an operator uses it: check-config, env overrides, `contact`.

use crate::crash::{free_port, spawn_binary, wait_healthy};
use crate::harness::*;

#[test]
fn check_config_accepts_the_example_and_lists_the_webhook_urls() {
    let (code, stdout, stderr) = run_attentiond(&["check-config"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("source hubspot (hubspot): POST /webhooks/hubspot"),
        "{stdout}"
    );
    assert!(
        stdout.contains("source site (standard): POST /webhooks/site"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("change-me-admin-token"),
        "secrets never print"
    );
}

#[test]
fn check_config_names_an_unknown_key_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        config_text(
            dir.path(),
            "[sinks.hubspot]\nkind = \"hubspot\"\naccess_token = \"t\"\nflush_intervall_ms = 5\n",
        ),
    )
    .unwrap();
    let (code, _, stderr) =
        run_attentiond(&["--config", path.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("sinks.hubspot")
            && stderr.contains("flush_intervall_ms")
            && stderr.contains("flush_interval_ms"),
        "{stderr}"
    );

    std::fs::write(
        &path,
        config_text(dir.path(), "[sources.crm]\nkind = \"salesforse\"\n"),
    )
    .unwrap();
    let (code, _, stderr) =
        run_attentiond(&["--config", path.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("sources.crm")
            && stderr.contains("salesforse")
            && stderr.contains("hubspot")
            && stderr.contains("standard"),
        "{stderr}"
    );
}

#[test]
fn environment_variables_override_the_file_and_secrets_come_from_files() {
    let (code, _, stderr) = run_attentiond(
        &["check-config"],
        &[("ATTENTIOND__SERVER__LISTEN", "not-an-address")],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("server.listen"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("site_secret");
    std::fs::write(&secret, format!("{SITE_SECRET}\n")).unwrap();
    let path = dir.path().join("a.toml");
    std::fs::write(&path, "[sources.site]\nkind = \"standard\"\n").unwrap();
    let (code, _, stderr) =
        run_attentiond(&["--config", path.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(code, 1, "no secret: {stderr}");
    assert!(stderr.contains("secret"), "{stderr}");
    let (code, stdout, stderr) = run_attentiond(
        &["check-config"],
        &[
            ("ATTENTIOND_CONFIG", path.to_str().unwrap()),
            (
                "ATTENTIOND__SOURCES__SITE__SECRET_FILE",
                secret.to_str().unwrap(),
            ),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("source site (standard)"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_prints_the_same_json_while_running_and_after_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = spawn_binary(dir.path(), free_port());
    wait_healthy(&daemon.base).await;
    let body = touch_body("cli@example.com", "demo_request", &now_rfc3339());
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{}/webhooks/site", daemon.base))
        .body(body.clone());
    for (key, value) in sign_standard(SITE_SECRET, "cli-1", unix_now(), &body) {
        request = request.header(key, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    let config = daemon.config.to_str().unwrap().to_string();
    let read = |key: &str| {
        let (code, stdout, stderr) = run_attentiond(&["--config", &config, "contact", key], &[]);
        (code, stdout, stderr)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let running = loop {
        let (code, stdout, stderr) = read("cli@example.com");
        if code == 0 {
            break serde_json::from_str::<serde_json::Value>(&stdout).expect(&stderr);
        }
        assert!(std::time::Instant::now() < deadline, "{stderr}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(running["touch_count"], 1);
    assert_eq!(running["touches"][0]["kind"], "demo_request");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(
        daemon.child.wait().unwrap().success(),
        "SIGTERM stops cleanly"
    );
    let (code, stdout, stderr) = read("cli@example.com");
    assert_eq!(code, 0, "{stderr}");
    let stopped: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(stopped["id"], running["id"]);
    assert_eq!(stopped["touch_count"], 1);
    let (code, _, stderr) = read("nobody@example.com");
    assert_eq!(code, 1);
    assert!(stderr.contains("no contact"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_name_the_source_and_the_reason_but_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = spawn_binary(dir.path(), free_port());
    wait_healthy(&daemon.base).await;
    let body = touch_body("log@example.com", "form_submit", &now_rfc3339());
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{}/webhooks/site", daemon.base))
        .body(body.clone());
    for (key, value) in sign_standard(
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "log-1",
        unix_now(),
        &body,
    ) {
        request = request.header(key, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 401);
    let admin = client
        .get(format!("{}/api/v1/contacts/log@example.com", daemon.base))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 401);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    daemon.child.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    let refused = log
        .lines()
        .find(|line| line.contains("Webhook refused"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        refused.contains("source=site")
            && refused.contains("invalid signature")
            && refused.contains("status=401"),
        "{refused}"
    );
    for secret in [
        SITE_SECRET,
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        HUBSPOT_SECRET,
        ADMIN_TOKEN,
        "guess",
    ] {
        assert!(!log.contains(secret), "log reveals {secret}:\n{log}");
    }
}
