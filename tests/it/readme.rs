//! The README as a newcomer copies it: its sender snippet, run by `sh` against the
//! daemon on the committed example config, is accepted; the tools it lists for the
//! tests are those `.ci/run` installs; what it and docs/operations.md say of
//! `/metrics` is what the daemon serves.

use crate::crash::{free_port, wait_healthy};
use crate::harness::*;

fn read(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The first ```sh block after `marker` in the README.
fn snippet_after(readme: &str, marker: &str) -> String {
    let after = &readme[readme
        .find(marker)
        .unwrap_or_else(|| panic!("no `{marker}`"))..];
    let start = after.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = after[start..].find("```").expect("the block ends") + start;
    after[start..end].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_sender_snippet_is_accepted_by_the_example_config() {
    let readme = read("README.md");
    let snippet = snippet_after(&readme, "**Try it without HubSpot.**");
    assert!(snippet.contains("127.0.0.1:8080"), "{snippet}");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let store = dir.path().join("data");
    let store = store.to_str().unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_attentiond"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The example config as committed; only where it listens and keeps its store
    // change, and its HubSpot sink writes nowhere.
    let env = [
        ("ATTENTIOND__SERVER__LISTEN", listen.as_str()),
        ("ATTENTIOND__STORE__PATH", store),
        ("ATTENTIOND__SINKS__HUBSPOT__BASE_URL", "http://127.0.0.1:9"),
        ("PATH", path.as_str()),
    ];
    let mut daemon = std::process::Command::new(bin)
        .args(["--config", "config/attentiond.toml", "serve"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .envs(env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://{listen}");
    wait_healthy(&base).await;
    let script = snippet.replace("127.0.0.1:8080", &listen);
    let run = |script: String| {
        std::process::Command::new("sh")
            .args(["-c", &script])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .envs(env)
            .output()
            .unwrap()
    };
    let output = run(script.clone());
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        said.contains(r#"{"status":"accepted"}"#),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let client = reqwest::Client::new();
    loop {
        let response = client
            .get(format!("{base}/api/v1/contacts/hubspot:501"))
            .bearer_auth("change-me-admin-token")
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "hubspot:501 never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The snippet's last line, the CLI asking the running daemon.
    let last = script.lines().last().unwrap().to_string();
    assert!(last.contains("contact hubspot:501"), "{last}");
    let output = run(last);
    let said = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let view: serde_json::Value = serde_json::from_str(&said).unwrap();
    assert_eq!(view["touches"][0]["kind"], "email_click", "{said}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    daemon.wait().unwrap();
}

#[test]
fn the_readme_lists_what_the_tests_need() {
    let readme = read("README.md");
    let section = &readme[readme.find("## Running the tests").expect("a test section")..];
    let ci = read(".ci/run");
    let mut packages = Vec::new();
    for line in ci.lines() {
        if let Some(list) = line
            .trim()
            .strip_prefix("apt-get install -y --no-install-recommends ")
        {
            packages.extend(list.split_whitespace().map(str::to_string));
        }
    }
    let toolchain = ["cargo", "rustc", "rustfmt", "rust-clippy"];
    let needed: Vec<&String> = packages
        .iter()
        .filter(|package| !toolchain.contains(&package.as_str()))
        .collect();
    assert!(needed.len() >= 6, "{packages:?}");
    let words: Vec<&str> = section
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    for package in needed {
        assert!(
            words.contains(&package.as_str()),
            "README does not list `{package}`, which .ci/run installs"
        );
    }
    for step in [
        "npm ci --prefix tests/browser",
        "npm ci --prefix tests/senders",
        "schemathesis",
        "venv",
    ] {
        assert!(ci.contains(step) && section.contains(step), "{step}");
    }
}

#[tokio::test]
async fn the_docs_say_what_metrics_and_logs_really_are() {
    let daemon = Daemon::start("");
    let response = daemon
        .client
        .get(format!("{}/metrics", daemon.base))
        .send()
        .await
        .unwrap();
    let served = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let flat = |text: String| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let readme = flat(read("README.md"));
    let operations = flat(read("docs/operations.md"));
    assert!(readme.contains(&served), "README names {served}");
    assert!(
        operations.contains(&served),
        "docs/operations.md names {served}"
    );
    assert!(
        !readme.contains("serves Prometheus text") && !operations.contains("includes colour codes"),
        "stale claims"
    );
    assert!(
        operations.contains("colour codes only when standard error is a terminal"),
        "the colour claim matches the logger (tests/it/cli_commands.rs checks a log file has none)"
    );
}
