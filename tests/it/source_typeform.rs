//! Typeform over real HTTP, signed as Typeform signs (`Typeform-Signature: sha256=…`),
//! and the same webhook described as a `mapped` source. Payload shapes follow
//! Typeform's webhook reference, cited at the fixtures in the adapter's unit tests
//! (`src/sources/typeform.rs`).

use crate::harness::*;
use base64::Engine;

const SOURCE: &str = r#"
[sources.typeform]
kind = "typeform"
secret = "typeform-secret"
[sources.typeform.profile_fields]
company_ref = "company"
"#;

fn typeform_headers(secret: &str, body: &str) -> Vec<(String, String)> {
    let signature =
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret, body.as_bytes()));
    vec![("Typeform-Signature".into(), format!("sha256={signature}"))]
}

fn typeform_response(event_id: &str, email: &str) -> String {
    serde_json::json!({"event_id": event_id, "event_type": "form_response", "form_response": {
        "form_id": "lT4Z3j", "token": "tok", "submitted_at": rfc3339_from_now(-60), "landed_at": rfc3339_from_now(-120),
        "hidden": {"anonymous_id": "visitor-tf"},
        "definition": {"id": "lT4Z3j", "title": "Demo request", "fields": []},
        "answers": [
            {"type": "text", "text": "Acme Inc", "field": {"id": "a1", "type": "short_text", "ref": "company_ref"}},
            {"type": "email", "email": email, "field": {"id": "a2", "type": "email", "ref": "email_ref"}}
        ]}})
    .to_string()
}

#[tokio::test]
async fn typeform_responses_become_form_submits_with_profile() {
    let daemon = Daemon::start(SOURCE);
    // An earlier anonymous visit joins the respondent through the hidden field.
    let visit = serde_json::json!({"type": "touch", "data": {"anonymous_id": "visitor-tf", "kind": "pricing_view", "occurred_at": now_rfc3339()}}).to_string();
    daemon.post_site("tf-visit", &visit).await;
    let body = typeform_response("LtWXD3crgy", "laura@example.com");
    assert_eq!(
        daemon
            .status(
                "/webhooks/typeform",
                &typeform_headers("typeform-secret", &body),
                &body
            )
            .await,
        200
    );
    let view = daemon
        .wait_contact("laura@example.com", |v| v["touch_count"] == 2)
        .await;
    assert_eq!(view["profile"]["company"]["value"], "Acme Inc");
    let kinds: Vec<&str> = view["touches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"form_submit") && kinds.contains(&"pricing_view"),
        "{kinds:?}"
    );
    assert_eq!(
        daemon
            .status(
                "/webhooks/typeform",
                &typeform_headers("typeform-secret", &body),
                &body
            )
            .await,
        200
    );

    let other = typeform_response("evt-2", "eve@example.com");
    assert_eq!(
        daemon
            .status(
                "/webhooks/typeform",
                &typeform_headers("wrong", &other),
                &other
            )
            .await,
        401
    );
    assert_eq!(
        daemon
            .status(
                "/webhooks/typeform",
                &typeform_headers("typeform-secret", &body),
                &other
            )
            .await,
        401
    );
    assert_eq!(daemon.status("/webhooks/typeform", &[], &other).await, 401);
    let broken = r#"{"event_id":"x","event_type":"form_response"}"#;
    assert_eq!(
        daemon
            .status(
                "/webhooks/typeform",
                &typeform_headers("typeform-secret", broken),
                broken
            )
            .await,
        400
    );
    daemon.drained().await;
    assert!(daemon.contact("eve@example.com").await.is_none());
    assert_eq!(
        daemon.contact("laura@example.com").await.unwrap()["touch_count"],
        2
    );
}

/// The Typeform webhook described as a `mapped` source: the same fixture and signature
/// give the same touch and profile.
const TYPEFORM_AS_MAPPED: &str = r#"
[sources.forms]
kind = "mapped"
[sources.forms.auth]
scheme = "hmac"
header = "Typeform-Signature"
secret = "typeform-secret"
algorithm = "sha256"
encoding = "base64"
prefix = "sha256="
[sources.forms.fields]
event_id = "/event_id"
email = "/form_response/answers/1/email"
anonymous_id = "/form_response/hidden/anonymous_id"
kind_field = "/event_type"
occurred_at = "/form_response/submitted_at"
[sources.forms.kinds]
form_response = "form_submit"
[sources.forms.profile]
company = "/form_response/answers/0/text"
"#;

#[tokio::test]
async fn a_mapped_source_expresses_the_typeform_webhook() {
    let daemon = Daemon::start(TYPEFORM_AS_MAPPED);
    let body = typeform_response("mapped-1", "mapped@example.com");
    let response = daemon
        .post(
            "/webhooks/forms",
            &typeform_headers("typeform-secret", &body),
            &body,
        )
        .await;
    assert_eq!(response.status(), 200);
    let view = daemon
        .wait_contact("mapped@example.com", |v| v["touch_count"] == 1)
        .await;
    assert_eq!(view["touches"][0]["kind"], "form_submit");
    assert_eq!(view["touches"][0]["source"], "forms");
    assert_eq!(view["profile"]["company"]["value"], "Acme Inc");
    assert_eq!(view["anonymous_ids"], serde_json::json!(["visitor-tf"]));
    // Redelivery, bad signature, and an authentic payload the mapping cannot read.
    assert_eq!(
        daemon
            .status(
                "/webhooks/forms",
                &typeform_headers("typeform-secret", &body),
                &body
            )
            .await,
        200
    );
    let other = typeform_response("mapped-2", "nope@example.com");
    assert_eq!(
        daemon
            .status(
                "/webhooks/forms",
                &typeform_headers("wrong", &other),
                &other
            )
            .await,
        401
    );
    assert_eq!(daemon.status("/webhooks/forms", &[], &other).await, 401);
    let unreadable = r#"{"event_type":"form_response"}"#;
    let response = daemon
        .post(
            "/webhooks/forms",
            &typeform_headers("typeform-secret", unreadable),
            unreadable,
        )
        .await;
    assert_eq!(response.status(), 400);
    let detail: serde_json::Value = response.json().await.unwrap();
    assert!(
        detail["detail"].as_str().unwrap().contains("/event_id"),
        "{detail}"
    );
    daemon.drained().await;
    assert!(daemon.contact("nope@example.com").await.is_none());
    assert_eq!(
        daemon.contact("mapped@example.com").await.unwrap()["touch_count"],
        1
    );
}
