//! Tests of the mapped source: other platforms' signature vectors expressed as
//! settings, bearer and Basic secrets, and the mapping's errors.

use super::*;

fn from_toml(text: &str) -> Result<MappedSource, String> {
    let value: serde_json::Value = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| e.to_string())?;
    let source: MappedSource = serde_json::from_value(value).map_err(|e| e.to_string())?;
    source
        .validate()
        .map_err(|(key, message)| format!("{key}: {message}"))?;
    Ok(source)
}

/// The Typeform webhook, described as a mapped source.
pub const TYPEFORM_AS_MAPPED: &str = r#"
[auth]
scheme = "hmac"
header = "Typeform-Signature"
secret = "abc123"
algorithm = "sha256"
encoding = "base64"
prefix = "sha256="
[fields]
event_id = "/event_id"
email = "/form_response/answers/2/email"
anonymous_id = "/form_response/hidden/anonymous_id"
kind_field = "/event_type"
occurred_at = "/form_response/submitted_at"
[kinds]
form_response = "form_submit"
[profile]
company = "/form_response/answers/0/text"
title = "/form_response/answers/1/choice/label"
"#;

fn run(
    source: &MappedSource,
    headers: &[(&str, &str)],
    body: &str,
    now: Millis,
) -> Result<Vec<Event>, SourceError> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    source.verify(&delivery, now)?;
    source.normalize(&delivery)
}

// The Typeform signature vector (VENDORS.md §8) through the mapped scheme.
#[test]
fn typeform_signatures_verify_as_a_mapped_source() {
    let source = from_toml(TYPEFORM_AS_MAPPED).unwrap();
    let headers = vec![(
        "Typeform-Signature".to_string(),
        "sha256=pguEKycwiYwupvSfEYlpcBukgeGHBSRinV7x5E8zEcE=".to_string(),
    )];
    let body = br#"{"event_id":"01H","event_type":"form_response"}"#;
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &headers,
        body,
    };
    assert_eq!(source.verify(&delivery, 0), Ok(()));
    let tampered = Delivery {
        body: br#"{"event_id":"01J","event_type":"form_response"}"#,
        ..delivery
    };
    assert_eq!(
        source.verify(&tampered, 0),
        Err(SourceError::InvalidSignature)
    );
}

#[test]
fn the_typeform_fixture_maps_to_the_same_touch_as_the_typeform_source() {
    let mapped = from_toml(TYPEFORM_AS_MAPPED).unwrap();
    let body = crate::sources::typeform::tests::RESPONSE;
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &[],
        body: body.as_bytes(),
    };
    let events = mapped.normalize(&delivery).unwrap();
    let EventBody::Touch(touch) = &events[0].body else {
        panic!()
    };
    assert_eq!(events[0].provider_id, "LtWXD3crgy");
    assert_eq!(touch.kind, TouchKind::FormSubmit);
    assert_eq!(
        touch.who,
        vec![
            Identity::email("laura@example.com"),
            Identity::Anonymous("visitor-9".into())
        ]
    );
    assert_eq!(
        touch.occurred_at,
        chrono::DateTime::parse_from_rfc3339("2026-11-20T14:21:39Z")
            .unwrap()
            .timestamp_millis()
    );
    let EventBody::Profile(profile) = &events[1].body else {
        panic!()
    };
    assert_eq!(profile.fields["company"], "Acme Inc");
    assert_eq!(profile.fields["title"], "Engineering");
}

// Zoom (v0:{ts}:{body}, hex, timestamp header) and Calendly (t=…,v1=… header) vectors
// from VENDORS.md §8, expressed as mapped sources.
#[test]
fn timestamped_schemes_of_zoom_and_calendly_can_be_expressed() {
    let fields = "[fields]\nevent_id = \"/event\"\nemail = \"/email\"\nkind = \"webinar_attended\"\noccurred_at = \"/t\"\noccurred_at_format = \"unix_seconds\"\n";
    let zoom = from_toml(&format!("[auth]\nscheme = \"hmac\"\nheader = \"x-zm-signature\"\nsecret = \"secretValueTest\"\nprefix = \"v0=\"\nsigned = \"timestamp_body\"\nsigned_format = \"v0:{{timestamp}}:{{body}}\"\ntimestamp_header = \"x-zm-request-timestamp\"\n{fields}")).unwrap();
    let body = r#"{"event":"meeting.started"}"#;
    let headers = [
        (
            "x-zm-signature",
            "v0=42955a258be9873d016a2973a6697442d5ac968110bfccb89f9760492920ecc9",
        ),
        ("x-zm-request-timestamp", "1654503849"),
    ];
    let delivery_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &delivery_headers,
        body: body.as_bytes(),
    };
    assert_eq!(zoom.verify(&delivery, 1_654_503_849_000), Ok(()));
    assert_eq!(
        zoom.verify(&delivery, 1_654_504_200_000),
        Err(SourceError::StaleTimestamp(300))
    );

    let calendly = from_toml(&format!("[auth]\nscheme = \"hmac\"\nheader = \"Calendly-Webhook-Signature\"\nsecret = \"signing-key\"\nsignature_part = \"v1\"\nsigned = \"timestamp_body\"\ntimestamp_part = \"t\"\n{fields}")).unwrap();
    let body = r#"{"event":"invitee.created"}"#;
    let headers = vec![(
        "Calendly-Webhook-Signature".to_string(),
        "t=1700000000,v1=372f72588af1e3af76b360730e53401de0f7c11ccdbc634e903f2e9656352579"
            .to_string(),
    )];
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    assert_eq!(calendly.verify(&delivery, 1_700_000_000_000), Ok(()));
}

// Intercom (sha1=, hex) and Segment webhooks (hex HMAC-SHA1, no prefix) vectors from
// VENDORS.md §7–8.
#[test]
fn sha1_schemes_of_intercom_and_segment_can_be_expressed() {
    let fields =
        "[fields]\nevent_id = \"/id\"\nemail = \"/email\"\nkind = \"chat\"\noccurred_at = \"/t\"\n";
    let intercom = from_toml(&format!("[auth]\nscheme = \"hmac\"\nheader = \"X-Hub-Signature\"\nsecret = \"hub-secret\"\nalgorithm = \"sha1\"\nprefix = \"sha1=\"\n{fields}")).unwrap();
    let ok = run(
        &intercom,
        &[(
            "X-Hub-Signature",
            "sha1=72dce4eabccbaef68bbe64a563bd4947b1565acc",
        )],
        r#"{"type":"notification_event","topic":"ping"}"#,
        0,
    );
    assert!(
        matches!(ok, Err(SourceError::Malformed(r)) if r.contains("no event id at /id")),
        "verified, then the mapping speaks"
    );
    let segment = from_toml(&format!("[auth]\nscheme = \"hmac\"\nheader = \"X-Signature\"\nsecret = \"sharedsecret\"\nalgorithm = \"sha1\"\n{fields}")).unwrap();
    let headers = vec![(
        "X-Signature".to_string(),
        "72c9815d6048ea5c7c183e590cbd931dda3c7c73".to_string(),
    )];
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &headers,
        body: br#"{"type":"track","event":"Signed Up"}"#,
    };
    assert_eq!(segment.verify(&delivery, 0), Ok(()));
}

#[test]
fn bearer_and_basic_secrets() {
    let fields = "[fields]\nevent_id = \"/id\"\nemail = \"/email\"\nkind = \"form_submit\"\noccurred_at = \"/at\"\n";
    let bearer = from_toml(&format!(
        "[auth]\nscheme = \"bearer\"\nsecret = \"tok\"\n{fields}"
    ))
    .unwrap();
    let body = r#"{"id":"e1","email":"a@b.c","at":"2026-11-20T10:00:00Z"}"#;
    assert!(run(&bearer, &[("Authorization", "Bearer tok")], body, 0).is_ok());
    assert!(matches!(
        run(&bearer, &[("Authorization", "Bearer nope")], body, 0),
        Err(SourceError::BadCredentials(_))
    ));
    assert_eq!(
        run(&bearer, &[], body, 0).unwrap_err(),
        SourceError::MissingHeader("Authorization")
    );
    let basic = from_toml(&format!(
        "[auth]\nscheme = \"basic\"\nusername = \"hook\"\npassword = \"pw\"\n{fields}"
    ))
    .unwrap();
    let good = format!("Basic {}", STANDARD.encode("hook:pw"));
    assert!(run(&basic, &[("Authorization", &good)], body, 0).is_ok());
    let bad = format!("Basic {}", STANDARD.encode("hook:px"));
    assert!(matches!(
        run(&basic, &[("Authorization", &bad)], body, 0),
        Err(SourceError::BadCredentials(_))
    ));
}

#[test]
fn config_errors_name_the_bad_pointer() {
    let base = "[auth]\nscheme = \"bearer\"\nsecret = \"t\"\n";
    let error = from_toml(&format!("{base}[fields]\nevent_id = \"id\"\nemail = \"/email\"\nkind = \"form_submit\"\noccurred_at = \"/at\"\n")).unwrap_err();
    assert!(
        error.contains("fields.event_id") && error.contains("`id`"),
        "{error}"
    );
    let error = from_toml(&format!("{base}[fields]\nevent_id = \"/id\"\nemail = \"/email\"\nkind = \"form_submit\"\noccurred_at = \"/at\"\n[profile]\ncompany = \"/a/~2\"\n")).unwrap_err();
    assert!(
        error.contains("profile.company") && error.contains("/a/~2"),
        "{error}"
    );
    let error = from_toml(&format!("{base}[fields]\nevent_id = \"/id\"\nemail = \"/email\"\nkind = \"webinar\"\noccurred_at = \"/at\"\n")).unwrap_err();
    assert!(
        error.contains("fields.kind") && error.contains("webinar_attended"),
        "{error}"
    );
    let error = from_toml(&format!(
        "{base}[fields]\nevent_id = \"/id\"\nkind = \"form_submit\"\noccurred_at = \"/at\"\n"
    ))
    .unwrap_err();
    assert!(error.contains("fields.email"), "{error}");
}

#[test]
fn payload_gaps_are_named() {
    let source = from_toml(TYPEFORM_AS_MAPPED).unwrap();
    let delivery = |body: &'static str| Delivery {
        method: "POST",
        url: "",
        headers: &[],
        body: body.as_bytes(),
    };
    assert!(
        matches!(source.normalize(&delivery(r#"{"event_type":"form_response"}"#)), Err(SourceError::Malformed(r)) if r.contains("/event_id"))
    );
    assert!(
        matches!(source.normalize(&delivery(r#"{"event_id":"x","event_type":"form_response","form_response":{}}"#)), Err(SourceError::Malformed(r)) if r.contains("/form_response/answers/2/email"))
    );
    assert!(source
        .normalize(&delivery(r#"{"event_id":"x","event_type":"form_partial"}"#))
        .unwrap()
        .is_empty());
}
