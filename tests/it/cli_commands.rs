//! The binary's commands and logs as an operator reads them: help for every
//! argument, `contact` printing what the API answers, a note when the store was
//! scored under other settings, and log lines that name contacts as the API does.

use crate::crash::{free_port, spawn_binary, wait_healthy};
use crate::fake_crm::Answer;
use crate::fake_hubspot::FakeHubspot;
use crate::harness::*;
use crate::sink_scenarios::CrmUnderTest;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The entries of a help section (`Commands:`, `Arguments:`, `Options:`): the
/// entry and whether a description follows it (on its line or the next).
fn entries(help: &str, section: &str) -> Vec<(String, bool)> {
    let lines: Vec<&str> = help.lines().collect();
    let Some(start) = lines.iter().position(|line| *line == section) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate().skip(start + 1) {
        if line.trim().is_empty() || !line.starts_with(' ') {
            break;
        }
        let indent = line.len() - line.trim_start().len();
        if indent != 2 {
            continue;
        }
        let entry = line.trim_start();
        let (name, description) = match entry.split_once("  ") {
            Some((name, rest)) => (name.to_string(), !rest.trim().is_empty()),
            None => (entry.to_string(), false),
        };
        let continued = lines.get(index + 1).is_some_and(|next| {
            next.len() - next.trim_start().len() > 2 && !next.trim().is_empty()
        });
        found.push((name, description || continued));
    }
    found
}

fn help_of(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    let (code, stdout, stderr) = run_attentiond(&all, &[]);
    assert_eq!(code, 0, "{args:?}: {stderr}");
    stdout
}

#[test]
fn every_command_and_argument_says_what_it_is_for() {
    let top = help_of(&[]);
    assert!(
        top.contains("ATTENTIOND__<SECTION>__<KEY>") && top.contains("ATTENTIOND_CONFIG"),
        "--help names the environment overrides:\n{top}"
    );
    let mut commands: Vec<Vec<String>> = Vec::new();
    for (name, described) in entries(&top, "Commands:") {
        assert!(described, "`{name}` has no description:\n{top}");
        if name != "help" {
            commands.push(vec![name]);
        }
    }
    assert!(commands.len() >= 10, "{top}");
    let mut checked = 0;
    while let Some(command) = commands.pop() {
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        let help = help_of(&args);
        for (name, described) in entries(&help, "Commands:") {
            assert!(described, "`{args:?} {name}` has no description:\n{help}");
            if name != "help" {
                let mut nested = command.clone();
                nested.push(name);
                commands.push(nested);
            }
        }
        for section in ["Arguments:", "Options:"] {
            for (name, described) in entries(&help, section) {
                assert!(described, "`{name}` of {args:?} has no help:\n{help}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 13, "dead-letters' own commands are checked too");
    let dead_letters = help_of(&["dead-letters"]);
    assert!(
        entries(&dead_letters, "Commands:")
            .iter()
            .any(|(name, _)| name == "delete"),
        "{dead_letters}"
    );
}

/// The API's JSON with the two numbers that decay by the millisecond set to 0,
/// so that answers given a moment apart compare byte for byte.
fn at_rest(json: &str) -> String {
    let mut out = json.trim_end().to_string();
    for field in ["\"raw\":", "\"attention_velocity\":"] {
        if let Some(at) = out.find(field) {
            let start = at + field.len();
            let end = out[start..]
                .find([',', '}'])
                .map_or(out.len(), |end| start + end);
            out.replace_range(start..end, "0");
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_prints_exactly_the_apis_json_and_says_when_scored_under_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = spawn_binary(dir.path(), free_port());
    wait_healthy(&daemon.base).await;
    let client = reqwest::Client::new();
    for (id, kind) in [("same-1", "form_submit"), ("same-2", "pricing_view")] {
        let body = touch_body("same@example.com", kind, &now_rfc3339());
        let mut request = client
            .post(format!("{}/webhooks/site", daemon.base))
            .body(body.clone());
        for (key, value) in sign_standard(SITE_SECRET, id, unix_now(), &body) {
            request = request.header(key, value);
        }
        assert_eq!(request.send().await.unwrap().status(), 200);
    }
    let api = || async {
        client
            .get(format!("{}/api/v1/contacts/same@example.com", daemon.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let answered = loop {
        let body = api().await;
        if body.contains("\"touch_count\":2") {
            break body;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let config = daemon.config.to_str().unwrap().to_string();
    let (code, running, stderr) =
        run_attentiond(&["--config", &config, "contact", "same@example.com"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        at_rest(&running),
        at_rest(&answered),
        "while the daemon runs"
    );

    kill(Pid::from_raw(daemon.child.id() as i32), Signal::SIGTERM).unwrap();
    assert!(daemon.child.wait().unwrap().success());
    let (code, stopped, stderr) =
        run_attentiond(&["--config", &config, "contact", "same@example.com"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(at_rest(&stopped), at_rest(&answered), "read from the store");
    assert!(!stderr.contains("scoring version"), "{stderr}");

    // Rescored offline under other settings, then read under the first ones.
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        format!(
            "{}\n[scoring]\nhalf_life_days = 7.0\n",
            std::fs::read_to_string(&config).unwrap()
        ),
    )
    .unwrap();
    let other = other.to_str().unwrap();
    let (code, _, stderr) = run_attentiond(&["--config", other, "rescore"], &[]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) =
        run_attentiond(&["--config", &config, "contact", "same@example.com"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with('{'), "{stdout}");
    assert!(
        stderr.contains("scoring version") && stderr.contains("rescore"),
        "says the stored values are from another version: {stderr}"
    );
    let (code, _, stderr) =
        run_attentiond(&["--config", other, "contact", "same@example.com"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("scoring version"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_name_contacts_as_the_api_does_and_never_print_options() {
    let fake = FakeHubspot::start();
    fake.script(Answer::json(
        400,
        serde_json::json!({"status": "error", "message": "Property values were not valid: attention_score", "category": "VALIDATION_ERROR"}),
    ));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = config_text(
        dir.path(),
        &fake.config("flush_interval_ms = 100\nmax_attempts = 1"),
    )
    .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let config = dir.path().join("attentiond.toml");
    std::fs::write(&config, text).unwrap();
    let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_attentiond"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;
    let client = reqwest::Client::new();
    let body = touch_body("logged@example.com", "form_submit", &now_rfc3339());
    let mut request = client
        .post(format!("{base}/webhooks/site"))
        .body(body.clone());
    for (key, value) in sign_standard(SITE_SECRET, "logged-1", unix_now(), &body) {
        request = request.header(key, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
    let id = loop {
        let letters: serde_json::Value = client
            .get(format!("{base}/api/v1/dead-letters"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(letter) = letters["dead_letters"].get(0) {
            break letter["contact"].as_str().unwrap_or_default().to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(id.starts_with("c_"), "the API names contacts c_<n>: {id}");
    let parked = log
        .lines()
        .find(|line| line.contains("Record parked in dead letters."))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(parked.contains(&format!("record={id}")), "{parked}");
    let serving = log
        .lines()
        .find(|line| line.contains("attentiond is serving."))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        serving.contains(&format!("address=127.0.0.1:{port}")),
        "{serving}"
    );
    assert!(!log.contains("Some("), "{log}");
    // Standard error is a file here, not a terminal: no colour codes.
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file:\n{log}"
    );
}
