//! What every source decides from a request's head alone, before its body is read.

use super::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const NOW: Millis = 1_795_428_000_000;

fn source(settings: serde_json::Value) -> SourceConfig {
    let source: SourceConfig = serde_json::from_value(settings).expect("settings");
    source.validate().expect("valid settings");
    source
}

fn head<'a>(url: &'a str, headers: &'a [(String, String)]) -> Head<'a> {
    Head {
        method: "POST",
        url,
        headers,
    }
}

fn header(name: &str, value: &str) -> Vec<(String, String)> {
    vec![(name.to_string(), value.to_string())]
}

fn basic(user_and_password: &str) -> String {
    format!("Basic {}", STANDARD.encode(user_and_password))
}

#[test]
fn credentials_outside_the_body_are_checked_from_the_head_alone() {
    let url = "https://a.example/webhooks/x";
    let none: Vec<(String, String)> = Vec::new();

    let mailchimp = source(serde_json::json!({"kind": "mailchimp", "key": "k1"}));
    let keyed = "https://a.example/webhooks/x?key=k1";
    assert_eq!(
        mailchimp.authenticate(&head(keyed, &none), NOW),
        Ok(Credentials::Checked)
    );
    assert!(mailchimp.authenticate(&head(url, &none), NOW).is_err());

    let salesforce = source(
        serde_json::json!({"kind": "salesforce", "organization_id": "00D5e000000KQ2eEAG", "token": "t1"}),
    );
    assert_eq!(
        salesforce.authenticate(&head("https://a.example/w?token=t1", &none), NOW),
        Ok(Credentials::Checked)
    );
    assert!(salesforce
        .authenticate(&head("https://a.example/w?token=t2", &none), NOW)
        .is_err());

    let marketo = source(serde_json::json!({"kind": "marketo", "secret": "s1"}));
    let secret = header("X-Attentiond-Secret", "s1");
    assert_eq!(
        marketo.authenticate(&head(url, &secret), NOW),
        Ok(Credentials::Checked)
    );
    assert!(marketo.authenticate(&head(url, &none), NOW).is_err());

    let pipedrive =
        source(serde_json::json!({"kind": "pipedrive", "username": "u", "password": "p"}));
    let right = header("authorization", &basic("u:p"));
    let wrong = header("authorization", &basic("u:q"));
    assert_eq!(
        pipedrive.authenticate(&head(url, &right), NOW),
        Ok(Credentials::Checked)
    );
    assert!(pipedrive.authenticate(&head(url, &wrong), NOW).is_err());

    let mapped = |auth: serde_json::Value| {
        source(serde_json::json!({"kind": "mapped", "auth": auth,
            "fields": {"event_id": "/id", "email": "/email", "kind": "form_submit", "occurred_at": "/at"}}))
    };
    let bearer = mapped(serde_json::json!({"scheme": "bearer", "secret": "b1"}));
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let token = header("authorization", &format!("{scheme} b1"));
        assert_eq!(
            bearer.authenticate(&head(url, &token), NOW),
            Ok(Credentials::Checked),
            "{scheme}"
        );
    }
    assert_eq!(
        bearer.authenticate(&head(url, &header("authorization", "Bearer b2")), NOW),
        Err(SourceError::BadCredentials("wrong bearer token".into()))
    );
    let hmac = mapped(serde_json::json!({"scheme": "hmac", "header": "X-Sig", "secret": "h"}));
    assert_eq!(
        hmac.authenticate(&head(url, &header("x-sig", "abc")), NOW),
        Ok(Credentials::InBody)
    );
    assert!(hmac.authenticate(&head(url, &none), NOW).is_err());

    let segment = source(serde_json::json!({"kind": "segment", "secret": "s", "key": "wk"}));
    let batch = "https://a.example/webhooks/x/v1/batch";
    assert_eq!(
        segment.authenticate(&head(batch, &header("authorization", &basic("wk:"))), NOW),
        Ok(Credentials::Checked)
    );
    assert!(segment
        .authenticate(&head(batch, &header("authorization", &basic("nope:"))), NOW)
        .is_err());
    // The write key may be in the body instead: only the body can tell.
    assert_eq!(
        segment.authenticate(&head(batch, &none), NOW),
        Ok(Credentials::InBody)
    );
    assert_eq!(
        segment.authenticate(&head(url, &none), NOW),
        Err(SourceError::MissingHeader("x-signature"))
    );
}

#[test]
fn signatures_wait_for_the_body_but_their_headers_do_not() {
    let url = "https://a.example/webhooks/x";
    let standard = source(
        serde_json::json!({"kind": "standard", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
    );
    let fresh: Vec<(String, String)> = [
        ("webhook-id", "m1".to_string()),
        ("webhook-timestamp", (NOW / 1000).to_string()),
        ("webhook-signature", "v1,x".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(
        standard.authenticate(&head(url, &fresh), NOW),
        Ok(Credentials::InBody)
    );
    assert_eq!(
        standard.authenticate(&head(url, &fresh), NOW + 3_600_000),
        Err(SourceError::StaleTimestamp(300))
    );
    assert_eq!(
        standard.authenticate(&head(url, &fresh[..2]), NOW),
        Err(SourceError::MissingHeader("webhook-signature"))
    );
    let hubspot = source(serde_json::json!({"kind": "hubspot", "client_secret": "c"}));
    let v3 = [
        ("x-hubspot-signature-v3".to_string(), "x".to_string()),
        ("x-hubspot-request-timestamp".to_string(), NOW.to_string()),
    ];
    assert_eq!(
        hubspot.authenticate(&head(url, &v3), NOW),
        Ok(Credentials::InBody)
    );
    assert!(hubspot.authenticate(&head(url, &v3[..1]), NOW).is_err());
    assert!(hubspot.authenticate(&head(url, &[]), NOW).is_err());
}
