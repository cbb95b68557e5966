//! A one-shot command whose reader goes away (`attentiond check-config | head -2`).

use std::os::unix::process::ExitStatusExt;

#[test]
fn check_config_into_a_closed_pipe_ends_quietly() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    // Nobody will read: the first line written meets a closed pipe.
    drop(reader);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_attentiond"))
        .arg("check-config")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(writer)
        .output()
        .expect("run attentiond");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "said on stderr: {stderr}");
    // Ended by SIGPIPE as `cat` or `grep` would be, not by a panic (exit 101).
    assert_eq!(
        output.status.signal(),
        Some(libc_sigpipe()),
        "{:?}",
        output.status
    );
}

/// SIGPIPE's number on Linux and the BSDs.
fn libc_sigpipe() -> i32 {
    13
}
