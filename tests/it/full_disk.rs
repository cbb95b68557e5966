//! A full disk, for real: the built binary runs with a small limit on the size of the
//! files it may write (RLIMIT_FSIZE, SIGXFSZ ignored, so writes fail as on a full file
//! system). Deliveries that do not fit get 503, or no answer once the daemon is gone:
//! it exits non-zero so that its service manager restarts it. After the restart every
//! acknowledged delivery is there and ingestion goes on.

use crate::crash::{free_port, spawn_binary, spawn_binary_with, wait_healthy};
use crate::harness::*;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// Room for a few dozen deliveries of the size below.
const FILE_SIZE_LIMIT: u64 = 2 * 1024 * 1024;

async fn deliver(client: &reqwest::Client, base: &str, n: usize) -> Option<u16> {
    let body = serde_json::json!({"type": "touch", "data": {
        "email": format!("full{n}@example.com"), "kind": "page_view",
        "occurred_at": now_rfc3339(), "properties": {"padding": "x".repeat(2000)}}})
    .to_string();
    let mut request = client
        .post(format!("{base}/webhooks/site"))
        .body(body.clone());
    for (key, value) in sign_standard(SITE_SECRET, &format!("full-{n}"), unix_now(), &body) {
        request = request.header(key, value);
    }
    Some(request.send().await.ok()?.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_deliveries_stops_the_daemon_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut first = spawn_binary_with(dir.path(), port, |command| {
        // SAFETY: only async-signal-safe calls (setrlimit, sigaction) between fork and exec.
        unsafe {
            command.pre_exec(|| {
                use nix::sys::resource::{getrlimit, setrlimit, Resource};
                use nix::sys::signal::{signal, SigHandler, Signal};
                signal(Signal::SIGXFSZ, SigHandler::SigIgn)?;
                let (_, hard) = getrlimit(Resource::RLIMIT_FSIZE)?;
                setrlimit(Resource::RLIMIT_FSIZE, FILE_SIZE_LIMIT, hard)?;
                Ok(())
            });
        }
    });
    wait_healthy(&first.base).await;

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut acked = Vec::new();
    let mut refused = 0;
    for n in 0..5_000 {
        match deliver(&client, &first.base, n).await {
            Some(200) => acked.push(n),
            Some(503) => refused += 1,
            Some(other) => panic!("delivery {n}: HTTP {other}"),
            // The daemon has gone, as it should once the store cannot write.
            None => break,
        }
    }
    // Whether some deliveries get a 503 before the daemon goes depends on who meets
    // the full disk first: a request's flush, or the pipeline's writes.
    assert!(
        acked.len() + refused < 5_000,
        "the limit never bit: {} acknowledged, {refused} refused",
        acked.len()
    );
    assert!(acked.len() >= 10, "only {} deliveries fit", acked.len());

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = first.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon kept running on a full disk"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(1), "{status:?}");
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("The store cannot write any more"), "{log}");
    assert!(log.contains("the store stopped writing"), "{log}");

    // Restarted with room again, as systemd would once space is freed.
    let second = spawn_binary(dir.path(), port);
    wait_healthy(&second.base).await;
    for n in &acked {
        let response = client
            .get(format!(
                "{}/api/v1/contacts/full{n}@example.com",
                second.base
            ))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "acknowledged delivery {n} was lost");
        let contact: serde_json::Value = response.json().await.unwrap();
        assert_eq!(contact["touch_count"], 1, "{contact}");
    }
    let next = acked.last().unwrap() + 1;
    assert_eq!(deliver(&client, &second.base, next).await, Some(200));
    assert_eq!(deliver(&client, &second.base, acked[0]).await, Some(200));
    let first_again = client
        .get(format!(
            "{}/api/v1/contacts/full{}@example.com",
            second.base, acked[0]
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(first_again["touch_count"], 1, "a redelivery counted twice");
}
