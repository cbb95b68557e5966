//! The console in a real headless Chromium, driven by playwright-core
//! (`tests/browser/console.mjs`): sign in, filter, a person's chart, an account, a
//! dead letter retried, a viewer refused, sign out; axe-core on every page; the
//! screenshots go to `target/console-screenshots/`.
//!
//! Node.js, Debian's `chromium` and `npm ci --prefix tests/browser` are needed; `.ci/run`
//! installs them. Without them this test fails and says what is missing.

use crate::console_seed::{with_a_dead_letter, ACCOUNT, PERSON, PERSON_MARKS, VIEWER_TOKEN};
use crate::harness::ADMIN_TOKEN;
use std::path::{Path, PathBuf};

fn browser_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// What is missing to run the walk, if anything.
fn missing() -> Vec<String> {
    let mut missing = Vec::new();
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|output| output.status.success()) {
        missing.push("Node.js (`node` on the PATH)".to_string());
    }
    if !Path::new(&chromium()).exists() {
        missing.push(format!(
            "Chromium at {} (Debian: apt-get install chromium)",
            chromium()
        ));
    }
    for package in ["playwright-core", "axe-core"] {
        if !browser_tests().join("node_modules").join(package).exists() {
            missing.push(format!("{package} (npm ci --prefix tests/browser)"));
        }
    }
    missing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_walks_the_console_in_a_real_browser() {
    let missing = missing();
    assert!(
        missing.is_empty(),
        "\n\n*** The console's browser test cannot run: missing {}. ***\n\
         *** `bash .ci/run` installs everything it needs. ***\n\n",
        missing.join(", ")
    );
    let (_fake, daemon) = with_a_dead_letter().await;
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    let output = tokio::process::Command::new("node")
        .arg(browser_tests().join("console.mjs"))
        .current_dir(browser_tests())
        .env("BASE_URL", &daemon.base)
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env("VIEWER_TOKEN", VIEWER_TOKEN)
        .env("PERSON_EMAIL", PERSON)
        .env("PERSON_MARKS", PERSON_MARKS.to_string())
        .env("ACCOUNT_KEY", ACCOUNT)
        .env("SCREENSHOTS", &screenshots)
        .env("CHROMIUM", chromium())
        .output()
        .await
        .expect("node runs");
    let said = String::from_utf8_lossy(&output.stdout);
    println!("{said}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the walk through the console failed:\n{said}"
    );
    assert!(said.contains("all passed"), "{said}");
    for page in [
        "sign-in",
        "overview",
        "people",
        "person",
        "account",
        "accounts",
        "dead-letters",
        "scoring",
    ] {
        assert!(
            screenshots.join(format!("{page}.png")).exists(),
            "no screenshot of {page}"
        );
    }
}
