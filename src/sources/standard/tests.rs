//! The Standard Webhooks source: signatures against the specification's and Svix's
//! published vectors, and the touch API payload.

use super::*;

fn source(secret: &str) -> StandardSource {
    StandardSource {
        secret: Secret::new(secret),
        tolerance_secs: 300,
    }
}

fn headers(id: &str, ts: &str, sig: &str) -> Vec<(String, String)> {
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), ts.into()),
        ("webhook-signature".into(), sig.into()),
    ]
}

fn check(secret: &str, id: &str, ts: &str, body: &str, sig: &str) -> Result<(), SourceError> {
    let headers = headers(id, ts, sig);
    let delivery = Delivery {
        method: "POST",
        url: "http://localhost/webhooks/site",
        headers: &headers,
        body: body.as_bytes(),
    };
    let now = ts.parse::<i64>().unwrap() * 1000;
    source(secret).verify(&delivery, now)
}

// Svix's published vector (svix/svix-webhooks `python/tests/test_webhooks.py`,
// `test_sign_function`), sent under Svix's header names.
#[test]
fn svix_header_names_verify_as_svix_does() {
    let headers = vec![
        (
            "svix-id".to_string(),
            "msg_p5jXN8AQM9LWM0D4loKWxJek".to_string(),
        ),
        ("svix-timestamp".to_string(), "1614265330".to_string()),
        (
            "svix-signature".to_string(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_string(),
        ),
    ];
    let body = r#"{"test": 2432232314}"#;
    let delivery = Delivery {
        method: "POST",
        url: "http://localhost/webhooks/site",
        headers: &headers,
        body: body.as_bytes(),
    };
    let source = source("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_eq!(source.verify(&delivery, 1_614_265_330_000), Ok(()));
    assert_eq!(
        source.authenticate(&delivery.head(), 1_614_265_330_000),
        Ok(Credentials::InBody)
    );
    let forged = Delivery {
        body: br#"{"test": 2432232315}"#,
        ..delivery
    };
    assert_eq!(
        source.verify(&forged, 1_614_265_330_000),
        Err(SourceError::InvalidSignature)
    );
    assert_eq!(
        source.verify(&delivery, 1_614_265_330_000 + 301_000),
        Err(SourceError::StaleTimestamp(300))
    );
}

// Vector from standard-webhooks/standard-webhooks
// libraries/python/tests/test_webhooks.py and libraries/javascript/src/webhook.test.ts.
#[test]
fn the_reference_libraries_vector_verifies() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (id, ts, body) = (
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        r#"{"test": 2432232314}"#,
    );
    assert_eq!(
        check(
            secret,
            id,
            ts,
            body,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        ),
        Ok(())
    );
    // Last character changed.
    assert_eq!(
        check(
            secret,
            id,
            ts,
            body,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
        ),
        Err(SourceError::InvalidSignature)
    );
    assert_eq!(
        check(secret, id, ts, body, "v1,"),
        Err(SourceError::InvalidSignature)
    );
    assert_eq!(
        check(secret, id, ts, body, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJEL"),
        Err(SourceError::InvalidSignature)
    );
    // A rotation list with junk around the valid one passes.
    assert_eq!(
        check(
            secret,
            id,
            ts,
            body,
            "v2,abc v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1a,xyz"
        ),
        Ok(())
    );
}

// Vector from standard-webhooks/standard-webhooks libraries/rust/src/lib.rs (tests).
#[test]
fn the_rust_library_vector_verifies() {
    assert_eq!(
        check(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            "1649367553",
            r#"{"email":"test@example.com","username":"test_user"}"#,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        ),
        Ok(())
    );
}

#[test]
fn stale_and_future_timestamps_are_refused() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let headers = headers(
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    );
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &headers,
        body: br#"{"test": 2432232314}"#,
    };
    let signed_at = 1_614_265_330_000;
    let src = source(secret);
    assert!(src.verify(&delivery, signed_at + 299_000).is_ok());
    assert_eq!(
        src.verify(&delivery, signed_at + 301_000),
        Err(SourceError::StaleTimestamp(300))
    );
    assert_eq!(
        src.verify(&delivery, signed_at - 301_000),
        Err(SourceError::StaleTimestamp(300))
    );
}

#[test]
fn a_missing_header_is_named() {
    let headers = vec![("webhook-id".to_string(), "x".to_string())];
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &headers,
        body: b"{}",
    };
    assert_eq!(
        source("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(&delivery, 0),
        Err(SourceError::MissingHeader("webhook-timestamp"))
    );
}

fn normalize(body: &str) -> Result<Vec<Event>, SourceError> {
    let headers = headers("msg_1", "0", "");
    let delivery = Delivery {
        method: "POST",
        url: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    source("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").normalize(&delivery)
}

#[test]
fn a_profile_states_fields_as_text_at_the_signed_time() {
    let events = normalize(
        r#"{"type":"profile","data":{"email":"vp@acme.com","account":"hubspot-company:42","fields":{"title":"VP Engineering","employees":500,"do_not_contact":false,"phone":null}}}"#,
    )
    .unwrap();
    let EventBody::Profile(profile) = &events[0].body else {
        panic!("not a profile")
    };
    assert_eq!(profile.who, vec![Identity::email("vp@acme.com")]);
    assert_eq!(profile.account.as_deref(), Some("hubspot-company:42"));
    assert_eq!(
        profile.fields.get("employees").map(String::as_str),
        Some("500")
    );
    assert_eq!(
        profile.fields.get("do_not_contact").map(String::as_str),
        Some("false")
    );
    assert!(!profile.fields.contains_key("phone"));
    assert_eq!(
        profile.occurred_at, 0,
        "the webhook-timestamp of the delivery"
    );
    let error =
        normalize(r#"{"type":"profile","data":{"email":"vp@acme.com","fields":{"tags":["a"]}}}"#)
            .unwrap_err();
    assert!(error.to_string().contains("data.fields.tags"), "{error}");
    let error = normalize(r#"{"type":"profile","data":{"email":"vp@acme.com"}}"#).unwrap_err();
    assert!(
        error.to_string().contains("data.fields or data.account"),
        "{error}"
    );
}

#[test]
fn a_touch_becomes_one_event_keyed_by_webhook_id() {
    let events = normalize(
        r#"{"type":"touch","timestamp":"2026-11-20T10:00:00Z","data":{"email":"Ann@Example.com","kind":"pricing_view","occurred_at":"2026-11-20T09:59:00+01:00","properties":{"url":"/pricing"}}}"#,
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].provider_id, "msg_1");
    let EventBody::Touch(touch) = &events[0].body else {
        panic!("not a touch")
    };
    assert_eq!(touch.kind, TouchKind::PricingView);
    assert_eq!(touch.who, vec![Identity::email("ann@example.com")]);
    assert_eq!(touch.occurred_at, 1_795_165_140_000);
}

#[test]
fn an_unknown_kind_names_the_valid_kinds() {
    let error = normalize(r#"{"type":"touch","data":{"email":"a@b.c","kind":"webinar","occurred_at":"2026-11-20T09:59:00Z"}}"#).unwrap_err();
    let SourceError::Malformed(reason) = error else {
        panic!()
    };
    assert!(
        reason.contains("webinar")
            && reason.contains("webinar_attended")
            && reason.contains("form_submit"),
        "{reason}"
    );
}

#[test]
fn malformed_payloads_say_why() {
    for (body, needle) in [
        ("not json", "not a touch API payload"),
        (
            r#"{"type":"touch","data":{"kind":"form_submit","occurred_at":"2026-11-20T09:59:00Z"}}"#,
            "email or data.anonymous_id",
        ),
        (
            r#"{"type":"touch","data":{"email":"a@b.c","kind":"form_submit","occurred_at":"yesterday"}}"#,
            "RFC 3339",
        ),
        (
            r#"{"type":"touch","data":{"email":"a@b.c","kind":"form_submit"}}"#,
            "occurred_at is required",
        ),
        (r#"{"type":"hello","data":{}}"#, "unknown type"),
        (
            r#"{"type":"identify","data":{"email":"a@b.c"}}"#,
            "anonymous_id",
        ),
        (
            r#"{"type":"identify","data":{"email":"nobody","anonymous_id":"v"}}"#,
            "not an email",
        ),
    ] {
        match normalize(body) {
            Err(SourceError::Malformed(reason)) => {
                assert!(reason.contains(needle), "{body}: {reason}")
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn an_outcome_names_its_opportunity_people_and_account() {
    let events = normalize(
        r#"{"type":"outcome","data":{"opportunity":"opp-17","kind":"opportunity_created","occurred_at":"2026-11-20T09:00:00Z","amount":42000,"currency":"EUR","stage":"discovery","emails":["Ann@Acme.com","bo@acme.com","ann@acme.com"],"account":"domain:acme.com"}}"#,
    )
    .unwrap();
    assert_eq!(events[0].provider_id, "msg_1");
    assert_eq!(
        events[0].body,
        EventBody::Outcome(Outcome {
            people: vec![
                Identity::email("ann@acme.com"),
                Identity::email("bo@acme.com")
            ],
            account: Some("domain:acme.com".into()),
            kind: OutcomeKind::OpportunityCreated,
            opportunity: Some("opp-17".into()),
            stage: Some("discovery".into()),
            amount: Some(42000.0),
            currency: Some("EUR".into()),
            occurred_at: 1_795_165_200_000,
            ..Outcome::default()
        })
    );
    let won = normalize(
        r#"{"type":"outcome","data":{"opportunity":"opp-17","kind":"won","occurred_at":"2026-12-20T09:00:00Z","account":"domain:acme.com"}}"#,
    )
    .unwrap();
    let EventBody::Outcome(won) = &won[0].body else {
        panic!("not an outcome")
    };
    assert_eq!((won.kind, won.people.len()), (OutcomeKind::Won, 0));
}

#[test]
fn an_outcome_without_people_kind_or_opportunity_says_why() {
    for (data, needle) in [
        (
            r#"{"kind":"won","occurred_at":"2026-12-20T09:00:00Z","account":"a"}"#,
            "data.opportunity is required",
        ),
        (
            r#"{"opportunity":"o","kind":"won","occurred_at":"2026-12-20T09:00:00Z"}"#,
            "data.emails or data.account",
        ),
        (
            r#"{"opportunity":"o","kind":"linked","occurred_at":"2026-12-20T09:00:00Z","account":"a"}"#,
            "unknown outcome kind `linked`",
        ),
        (
            r#"{"opportunity":"o","kind":"won","account":"a"}"#,
            "occurred_at is required",
        ),
        (
            r#"{"opportunity":"o","kind":"won","occurred_at":"2026-12-20T09:00:00Z","emails":["nobody"]}"#,
            "`nobody` is not an email",
        ),
        (
            r#"{"opportunity":"o","kind":"won","occurred_at":"2026-12-20T09:00:00Z","account":"a","amount":-5}"#,
            "not an amount",
        ),
    ] {
        let body = format!(r#"{{"type":"outcome","data":{data}}}"#);
        match normalize(&body) {
            Err(SourceError::Malformed(reason)) => {
                assert!(reason.contains(needle), "{body}: {reason}")
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn an_import_reads_every_type_and_names_a_bad_line() {
    let touch = r#"{"id":"t-1","type":"touch","data":{"email":"ann@acme.com","kind":"form_submit","occurred_at":"2026-11-20T09:00:00Z"}}"#;
    let profile = r#"{"type":"profile","data":{"email":"ann@acme.com","fields":{"title":"CTO"}}}"#;
    let outcome = r#"{"id":"o-1","type":"outcome","data":{"opportunity":"opp-1","kind":"won","occurred_at":"2026-12-20T09:00:00Z","account":"domain:acme.com"}}"#;
    let lines = [(1, touch), (2, profile), (3, outcome)];
    let events = import(&lines, 7_000).unwrap().into_events();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].provider_id, "t-1");
    // No id: a hash of the line, the same on every import of it.
    assert!(events[1].provider_id.starts_with("line-"));
    let again = import(&lines[1..2], 9_000).unwrap().into_events();
    assert_eq!(again[0].provider_id, events[1].provider_id);
    let EventBody::Profile(stated) = &events[1].body else {
        panic!("not a profile")
    };
    assert_eq!(stated.occurred_at, 7_000);
    assert!(matches!(events[2].body, EventBody::Outcome(_)));
    let error = import(&[(1, touch), (2, "{\"type\":\"touch\",\"data\":{}}")], 0).unwrap_err();
    assert!(error.to_string().contains("line 2"), "{error}");
}

#[test]
fn identify_ties_an_anonymous_visitor_to_an_email() {
    let events =
        normalize(r#"{"type":"identify","data":{"email":"a@b.c","anonymous_id":"v-1"}}"#).unwrap();
    assert_eq!(
        events[0].body,
        EventBody::Identify {
            who: vec![Identity::email("a@b.c"), Identity::Anonymous("v-1".into())]
        }
    );
}
