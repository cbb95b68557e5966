//! `attentiond check-config` on crafted files, as an operator meets its messages:
//! each names the line (or the environment variable) of the setting at fault, says
//! types in words, and warns of the example's secrets. A relative `store.path` is
//! the config file's neighbour.

use crate::harness::*;

/// Writes `text` as a config file and runs check-config on it with `env`.
fn check(text: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("attentiond.toml");
    std::fs::write(&path, text).unwrap();
    run_attentiond(&["--config", path.to_str().unwrap(), "check-config"], env)
}

const BASE: &str = "[server]\nlisten = \"127.0.0.1:8080\"\n\n[sources.site]\nkind = \"standard\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n";

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let text = format!(
        "{BASE}\n[sinks.crm]\nkind = \"hubspot\"\naccess_token = \"t\"\nflush_intervall_ms = 5\n"
    );
    let (code, _, stderr) = check(&text, &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("line 11") && stderr.contains("sinks.crm.flush_intervall_ms"),
        "{stderr}"
    );
}

#[test]
fn a_bad_value_is_named_with_its_line_and_its_type_in_words() {
    let text = BASE.replace(
        "listen = \"127.0.0.1:8080\"\n",
        "listen = \"127.0.0.1:8080\"\nmax_body_bytes = \"a lot\"\n",
    );
    let (code, _, stderr) = check(&text, &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("line 3") && stderr.contains("server.max_body_bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("a whole number"), "{stderr}");
    for rust in ["usize", "u64", "u32", "struct"] {
        assert!(!stderr.contains(rust), "Rust type name `{rust}`: {stderr}");
    }
    // A value that passes the type but not the checks: its line too.
    let text = BASE.replace("127.0.0.1:8080", "localhost");
    let (code, _, stderr) = check(&text, &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("line 2") && stderr.contains("server.listen"),
        "{stderr}"
    );
}

#[test]
fn a_bad_key_from_the_environment_blames_the_variable() {
    let (code, _, stderr) = check(BASE, &[("ATTENTIOND__SERVER__MAX_BODY_BYTES", "huge")]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("environment variable ATTENTIOND__SERVER__MAX_BODY_BYTES"),
        "{stderr}"
    );
    let (code, _, stderr) = check(BASE, &[("ATTENTIOND__SERVER__LISTEN", "nowhere")]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("environment variable ATTENTIOND__SERVER__LISTEN")
            && !stderr.contains("line 2"),
        "{stderr}"
    );
}

#[test]
fn a_typo_among_the_weights_shows_the_key() {
    let text = format!("{BASE}\n[scoring.weights]\nmeetings_booked = 20.0\n");
    let (code, _, stderr) = check(&text, &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("scoring.weights.meetings_booked") && stderr.contains("line 9"),
        "{stderr}"
    );
    assert!(!stderr.contains(".?"), "{stderr}");
    assert!(
        stderr.contains("meeting_booked"),
        "lists the kinds: {stderr}"
    );
}

#[test]
fn a_missing_secret_names_its_file_alternative_and_both_at_once_are_refused() {
    let without = BASE.replace("secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n", "");
    let (code, _, stderr) = check(&without, &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("`secret`") && stderr.contains("`secret_file`"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site_secret");
    std::fs::write(&file, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let file = file.to_str().unwrap();
    let (code, _, stderr) = check(BASE, &[("ATTENTIOND__SOURCES__SITE__SECRET_FILE", file)]);
    assert_eq!(code, 1, "both set is refused");
    assert!(
        stderr.contains("sources.site.secret") && stderr.contains("secret_file"),
        "{stderr}"
    );
    let (code, stdout, stderr) = check(
        &without,
        &[("ATTENTIOND__SOURCES__SITE__SECRET_FILE", file)],
    );
    assert_eq!(code, 0, "the file alone is fine: {stderr}");
    assert!(stdout.contains("source site (standard)"), "{stdout}");
}

#[test]
fn the_example_secrets_are_warned_about() {
    let (code, stdout, stderr) = run_attentiond(&["check-config"], &[]);
    assert_eq!(code, 0, "{stderr}");
    for key in [
        "server.admin_token",
        "sources.hubspot.client_secret",
        "sources.site.secret",
        "sinks.hubspot.access_token",
    ] {
        assert!(
            stdout
                .lines()
                .any(|line| line.starts_with("warning:") && line.contains(key)),
            "no warning for {key}:\n{stdout}"
        );
    }
    let (code, stdout, _) = check(BASE, &[]);
    assert_eq!(code, 0);
    assert!(
        !stdout.contains("example configuration's secret"),
        "{stdout}"
    );
}

#[test]
fn a_missing_config_file_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere.toml");
    for command in ["check-config", "contact"] {
        let mut args = vec!["--config", path.to_str().unwrap(), command];
        if command == "contact" {
            args.push("ann@example.com");
        }
        let (code, _, stderr) = run_attentiond(&args, &[]);
        assert_eq!(code, 1);
        assert_eq!(stderr.matches("nowhere.toml").count(), 1, "{stderr}");
        assert_eq!(stderr.matches("no such file").count(), 1, "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_store_path_is_beside_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("etc");
    std::fs::create_dir_all(&folder).unwrap();
    let port = crate::crash::free_port();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_token = \"{ADMIN_TOKEN}\"\n\n[store]\npath = \"./state\"\n\n[sources.site]\nkind = \"standard\"\nsecret = \"{SITE_SECRET}\"\n"
    );
    let config = folder.join("attentiond.toml");
    std::fs::write(&config, text).unwrap();
    // Started from another folder, as systemd or a shell elsewhere would.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_attentiond"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .current_dir(&elsewhere)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    crate::crash::wait_healthy(&base).await;
    let body = touch_body("beside@example.com", "form_submit", &now_rfc3339());
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{base}/webhooks/site"))
        .body(body.clone());
    for (key, value) in sign_standard(SITE_SECRET, "beside-1", unix_now(), &body) {
        request = request.header(key, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    // Applied before the stop, so that the CLI's offline read finds the contact.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let found = client
            .get(format!("{base}/api/v1/contacts/beside@example.com"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .is_ok_and(|response| response.status() == 200);
        if found {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the touch was applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    daemon.wait().unwrap();
    assert!(
        folder.join("state").join("db").exists(),
        "store beside the file"
    );
    assert!(
        !elsewhere.join("state").exists(),
        "not in the working folder"
    );
    // The CLI, run from yet another folder, finds the same store.
    let (code, stdout, stderr) = run_attentiond(
        &[
            "--config",
            config.to_str().unwrap(),
            "contact",
            "beside@example.com",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("beside@example.com"), "{stdout}");
}
