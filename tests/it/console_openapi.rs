//! The admin API's OpenAPI document, and schemathesis (from PyPI) fuzzing the running
//! daemon with it: no 5xx, and every answer's status, content type, headers and body
//! as the document says. `.ci/run` installs schemathesis into
//! `target/schemathesis-venv`; without it this test fails and says so.

use crate::console_seed::{with_a_dead_letter, VIEWER_TOKEN};
use crate::harness::ADMIN_TOKEN;
use std::path::{Path, PathBuf};

fn schemathesis() -> PathBuf {
    std::env::var_os("SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/schemathesis-venv/bin/schemathesis")
        })
}

#[tokio::test]
async fn the_document_describes_every_admin_route_and_is_served_to_all() {
    let daemon = crate::console_seed::start("");
    let answer = reqwest::get(format!("{}/api/v1/openapi.json", daemon.base))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let document: serde_json::Value = answer.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/contacts", "get"),
        ("/api/v1/contacts/{key}", "get"),
        ("/api/v1/contacts/{key}/explain", "get"),
        ("/api/v1/accounts", "get"),
        ("/api/v1/accounts/{key}", "get"),
        ("/api/v1/outcomes", "get"),
        ("/api/v1/sources", "get"),
        ("/api/v1/sinks", "get"),
        ("/api/v1/dead-letters", "get"),
        ("/api/v1/dead-letters/retry", "post"),
        ("/api/v1/dead-letters/{id}/retry", "post"),
        ("/api/v1/dead-letters/{id}", "delete"),
    ] {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} is documented");
        assert!(
            operation["responses"]["401"].is_object(),
            "{method} {path} says 401"
        );
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in [
        "PeopleView",
        "AccountsView",
        "ContactView",
        "SourcesView",
        "SinksView",
        "ProblemBody",
    ] {
        assert!(schemas.contains_key(schema), "{schema}");
    }
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    let tool = schemathesis();
    assert!(
        tool.exists(),
        "\n\n*** schemathesis is not installed at {}. ***\n\
         *** `bash .ci/run` installs it (python3 -m venv target/schemathesis-venv && \
         target/schemathesis-venv/bin/pip install schemathesis). ***\n\n",
        tool.display()
    );
    let (_fake, daemon) = with_a_dead_letter().await;
    for token in [VIEWER_TOKEN, ADMIN_TOKEN] {
        let output = tokio::process::Command::new(&tool)
            .args([
                "run",
                &format!("{}/api/v1/openapi.json", daemon.base),
                "--header",
                &format!("Authorization: Bearer {token}"),
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_headers_conformance,response_schema_conformance",
                "--max-examples",
                "40",
                "--seed",
                "20261206",
                "--workers",
                "2",
                "--no-color",
            ])
            .env("SCHEMATHESIS_HOOKS", "")
            // Its cache of found failures goes with the build, not the sources.
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
            .output()
            .await
            .expect("schemathesis runs");
        let said = String::from_utf8_lossy(&output.stdout);
        println!("{said}{}", String::from_utf8_lossy(&output.stderr));
        assert!(
            output.status.success(),
            "schemathesis found answers off the document:\n{said}"
        );
        assert!(said.contains("passed"), "{said}");
    }
}
