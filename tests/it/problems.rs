//! Every wrong request gets RFC 7807 problem JSON that says in words what was
//! wrong: unknown paths, known paths asked with another method, bodies that are not
//! JSON at all.

use crate::harness::*;

async fn problem_of(response: reqwest::Response) -> (u16, String, serde_json::Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{status} {content_type}: not problem JSON: {text:?}"));
    (status, content_type, body)
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_problem_json() {
    let daemon = Daemon::start("");
    let client = &daemon.client;
    let url = |path: &str| format!("{}{path}", daemon.base);
    let cases = [
        (client.get(url("/nowhere")), 404),
        (client.get(url("/api/v1/nowhere")), 404),
        (
            client.get(url("/api/v1/contactz")).bearer_auth(ADMIN_TOKEN),
            404,
        ),
        (client.delete(url("/healthz")), 405),
        (client.post(url("/metrics")), 405),
        (client.put(url("/webhooks/site")), 405),
        (client.get(url("/webhooks/site/v1/batch")), 405),
        (
            client
                .post(url("/api/v1/contacts/ann@example.com"))
                .bearer_auth(ADMIN_TOKEN),
            405,
        ),
    ];
    for (request, expected) in cases {
        let request = request.build().unwrap();
        let asked = format!("{} {}", request.method(), request.url().path());
        let (status, content_type, body) = problem_of(client.execute(request).await.unwrap()).await;
        assert_eq!(status, expected, "{asked}: {body}");
        assert_eq!(content_type, "application/problem+json", "{asked}");
        assert_eq!(body["status"], expected, "{asked}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{asked}: {body}");
        if expected == 405 {
            assert!(
                detail.contains("does not take")
                    && detail.contains(asked.split(' ').next().unwrap()),
                "{asked}: {detail}"
            );
        }
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_said_to_be_so() {
    let daemon = Daemon::start("");
    // Signed correctly, so that only the body is at fault.
    let (status, detail) = problem(daemon.post_site("not-json-1", "hello, attentiond").await).await;
    assert_eq!(status, 400);
    assert!(detail.contains("body is not JSON"), "{detail}");
    // JSON, but not a touch payload: that is said differently.
    let (status, detail) =
        problem(daemon.post_site("not-json-2", r#"{"type":"touch"}"#).await).await;
    assert_eq!(status, 400);
    assert!(!detail.contains("body is not JSON"), "{detail}");
    // HubSpot's body, signed as HubSpot signs it.
    let body = "[{\"eventId\": 1,";
    let now = unix_now() * 1000;
    let headers = sign_hubspot_v3(
        HUBSPOT_SECRET,
        "POST",
        &format!("{}/webhooks/hubspot", daemon.base),
        body,
        now,
    );
    let (status, detail) = problem(daemon.post("/webhooks/hubspot", &headers, body).await).await;
    assert_eq!(status, 400);
    assert!(detail.contains("body is not JSON"), "{detail}");
}
