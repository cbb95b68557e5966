//! Tests of the Marketo source: the secret header, the rendered template, ids and time
//! zones.

use super::*;

const SECRET: &str = "s3cr3t-shared-with-marketo";

fn source() -> MarketoSource {
    MarketoSource {
        header: DEFAULT_HEADER.into(),
        secret: Secret::new(SECRET),
        time_zone: "UTC".into(),
    }
}

fn delivery<'a>(headers: &'a [(String, String)], body: &'a str) -> Delivery<'a> {
    Delivery {
        method: "POST",
        url: "https://a.example/webhooks/marketo",
        headers,
        body: body.as_bytes(),
    }
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.to_string()))
        .collect()
}

/// The template in docs/sources/marketo.md as Marketo renders it with "Request Token
/// Encoding: JSON": string tokens quoted, `{{lead.Id}}` a number, empty tokens `""`,
/// `{{system.dateTime}}` as `2018-03-07 14:28:16` (the shape of the rendered body in
/// snowplow/enrich MarketoAdapterSpec.scala and the system tokens glossary).
const FORM_FILL: &str = r#"{
        "kind": "form_submit",
        "lead_id": 1234567,
        "email": "Ann.Lee@Example.com",
        "occurred_at": "2018-03-07 14:28:16",
        "campaign": "Demo request follow-up",
        "campaign_id": 987,
        "asset": "Demo Request Form",
        "url": "https://www.example.com/demo",
        "link": "",
        "first_name": "Ann",
        "last_name": "Lee",
        "title": "",
        "company": "Example Corp",
        "industry": "Software",
        "country": "",
        "employees": 250
    }"#;

fn normalize(body: &str) -> Result<Vec<Event>, SourceError> {
    source().normalize(&delivery(&[], body))
}

#[test]
fn the_right_secret_passes_and_a_wrong_one_is_refused() {
    let src = source();
    let good = headers(&[("X-Attentiond-Secret", SECRET)]);
    assert_eq!(src.verify(&delivery(&good, FORM_FILL), 0), Ok(()));
    let wrong = headers(&[("X-Attentiond-Secret", "s3cr3t-shared-with-marketX")]);
    assert!(
        matches!(src.verify(&delivery(&wrong, FORM_FILL), 0), Err(SourceError::BadCredentials(r)) if r.contains("wrong secret"))
    );
    let short = headers(&[("X-Attentiond-Secret", "s3cr3t")]);
    assert!(matches!(
        src.verify(&delivery(&short, FORM_FILL), 0),
        Err(SourceError::BadCredentials(_))
    ));
    assert_eq!(
        src.verify(&delivery(&[], FORM_FILL), 0),
        Err(SourceError::MissingHeader(DEFAULT_HEADER))
    );
}

#[test]
fn a_custom_header_name_is_honoured() {
    let mut src = source();
    src.header = "X-Marketo-Token".into();
    let good = headers(&[("x-marketo-token", SECRET)]);
    assert_eq!(src.verify(&delivery(&good, FORM_FILL), 0), Ok(()));
    let other = headers(&[("X-Attentiond-Secret", SECRET)]);
    assert_eq!(
        src.verify(&delivery(&other, FORM_FILL), 0),
        Err(SourceError::BadCredentials(
            "missing header X-Marketo-Token".into()
        ))
    );
    src.header = "bad header".into();
    assert_eq!(src.validate().unwrap_err().0, "header");
}

// Marketo does not sign the body: the secret header is the whole check, so a changed
// body with the right header is accepted (TLS protects it in transit).
#[test]
fn the_body_is_not_signed() {
    let good = headers(&[("X-Attentiond-Secret", SECRET)]);
    let changed = FORM_FILL.replace("1234567", "7654321");
    assert_eq!(source().verify(&delivery(&good, &changed), 0), Ok(()));
}

#[test]
fn a_form_fill_becomes_a_touch_and_a_profile() {
    let events = normalize(FORM_FILL).unwrap();
    assert_eq!(events.len(), 2);
    let EventBody::Touch(touch) = &events[0].body else {
        panic!("not a touch")
    };
    assert_eq!(touch.kind, TouchKind::FormSubmit);
    assert_eq!(
        touch.who,
        vec![
            Identity::crm("marketo", "1234567"),
            Identity::email("ann.lee@example.com")
        ]
    );
    // 2018-03-07 14:28:16 UTC
    assert_eq!(touch.occurred_at, 1_520_432_896_000);
    assert_eq!(
        touch.account.as_deref(),
        Some("marketo-company:Example Corp")
    );
    let properties = touch.properties.as_ref().unwrap();
    assert_eq!(properties["campaign"], "Demo request follow-up");
    assert_eq!(properties["campaign_id"], "987");
    assert_eq!(properties["url"], "https://www.example.com/demo");
    assert!(properties.get("link").is_none(), "empty tokens are dropped");

    let EventBody::Profile(profile) = &events[1].body else {
        panic!("not a profile")
    };
    assert_eq!(
        events[1].provider_id,
        format!("{}:profile", events[0].provider_id)
    );
    let expected: BTreeMap<String, String> = [
        ("first_name", "Ann"),
        ("last_name", "Lee"),
        ("company", "Example Corp"),
        ("industry", "Software"),
        ("employees", "250"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(
        profile.fields, expected,
        "empty title and country are not profile values"
    );
    assert_eq!(profile.who, touch.who);
}

#[test]
fn the_same_request_twice_has_the_same_id_and_a_different_engagement_does_not() {
    let first = normalize(FORM_FILL).unwrap();
    // A repeat in which Marketo's profile tokens read differently is still the same
    // engagement.
    let again = normalize(&FORM_FILL.replace("\"Software\"", "\"Fintech\"")).unwrap();
    assert_eq!(first[0].provider_id, again[0].provider_id);
    assert_eq!(first[0].provider_id.len(), 64);
    for other in [
        FORM_FILL.replace("14:28:16", "14:28:17"),
        FORM_FILL.replace("form_submit", "demo_request"),
        FORM_FILL.replace("1234567", "1234568"),
        FORM_FILL.replace("/demo", "/pricing"),
        FORM_FILL.replace("Demo request follow-up", "Other campaign"),
    ] {
        assert_ne!(
            normalize(&other).unwrap()[0].provider_id,
            first[0].provider_id,
            "{other}"
        );
    }
    let explicit =
        normalize(&FORM_FILL.replace("\"kind\"", "\"id\": \"run-42\", \"kind\"")).unwrap();
    assert_eq!(explicit[0].provider_id, "id:run-42");
}

#[test]
fn a_lead_without_profile_tokens_gets_only_a_touch() {
    let events = normalize(r#"{"kind":"email_open","lead_id":"42","email":"","occurred_at":"2026-11-23 10:00:00","first_name":""}"#).unwrap();
    assert_eq!(events.len(), 1);
    let EventBody::Touch(touch) = &events[0].body else {
        panic!()
    };
    assert_eq!(touch.who, vec![Identity::crm("marketo", "42")]);
    assert_eq!(touch.account, None);
    assert_eq!(touch.properties, None);
}

#[test]
fn a_broken_email_token_does_not_lose_the_touch() {
    let events = normalize(
        r#"{"kind":"email_click","lead_id":42,"email":"n/a","occurred_at":"2026-11-23 10:00:00"}"#,
    )
    .unwrap();
    let EventBody::Touch(touch) = &events[0].body else {
        panic!()
    };
    assert_eq!(touch.who, vec![Identity::crm("marketo", "42")]);
}

#[test]
fn malformed_templates_say_which_field() {
    for (body, needle) in [
        ("not json", "JSON object"),
        ("[1]", "JSON object"),
        (
            r#"{"lead_id":1,"occurred_at":"2026-11-23 10:00:00"}"#,
            "kind is required",
        ),
        (
            r#"{"kind":"form_fill","lead_id":1,"occurred_at":"2026-11-23 10:00:00"}"#,
            "unknown kind `form_fill`",
        ),
        (
            r#"{"kind":"form_submit","occurred_at":"2026-11-23 10:00:00"}"#,
            "lead_id is required",
        ),
        (
            r#"{"kind":"form_submit","lead_id":"","occurred_at":"2026-11-23 10:00:00"}"#,
            "lead_id is required",
        ),
        (
            r#"{"kind":"form_submit","lead_id":"{{lead.Id}}","occurred_at":"2026-11-23 10:00:00"}"#,
            "not a Marketo lead id",
        ),
        (
            r#"{"kind":"form_submit","lead_id":1}"#,
            "occurred_at is required",
        ),
        (
            r#"{"kind":"form_submit","lead_id":1,"occurred_at":"yesterday"}"#,
            "occurred_at `yesterday`",
        ),
        (
            r#"{"kind":"form_submit","lead_id":1,"occurred_at":"2026-11-23 10:00:00","company":{"x":1}}"#,
            "company must be",
        ),
    ] {
        match normalize(body) {
            Err(SourceError::Malformed(reason)) => {
                assert!(reason.contains(needle), "{body}: {reason}")
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    let Err(SourceError::Malformed(reason)) =
        normalize(r#"{"kind":"form_fill","lead_id":1,"occurred_at":"2026-11-23 10:00:00"}"#)
    else {
        panic!()
    };
    assert!(
        reason.contains("form_submit") && reason.contains("email_open"),
        "{reason}"
    );
}

#[test]
fn times_follow_the_configured_zone() {
    let utc = Zone::parse("UTC").unwrap();
    let wall = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
    let ms = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    assert_eq!(
        utc.to_utc_millis(wall("2026-11-23 10:00:00")),
        ms("2026-11-23T10:00:00Z")
    );
    let chicago = Zone::parse("America/Chicago").unwrap();
    // Winter: CST (-6); summer: CDT (-5).
    assert_eq!(
        chicago.to_utc_millis(wall("2026-01-15 10:00:00")),
        ms("2026-01-15T16:00:00Z")
    );
    assert_eq!(
        chicago.to_utc_millis(wall("2026-07-15 10:00:00")),
        ms("2026-07-15T15:00:00Z")
    );
    // 2026: DST from Sunday 8 March 02:00 to Sunday 1 November 02:00.
    assert_eq!(
        chicago.to_utc_millis(wall("2026-03-08 01:59:59")),
        ms("2026-03-08T07:59:59Z")
    );
    assert_eq!(
        chicago.to_utc_millis(wall("2026-03-08 03:00:00")),
        ms("2026-03-08T08:00:00Z")
    );
    assert_eq!(
        chicago.to_utc_millis(wall("2026-11-01 01:30:00")),
        ms("2026-11-01T06:30:00Z")
    );
    assert_eq!(
        chicago.to_utc_millis(wall("2026-11-01 02:00:00")),
        ms("2026-11-01T08:00:00Z")
    );
    let berlin = Zone::parse("europe/berlin").unwrap();
    // 2026: CEST from 29 March 01:00 UTC to 25 October 01:00 UTC.
    assert_eq!(
        berlin.to_utc_millis(wall("2026-03-29 01:59:00")),
        ms("2026-03-29T00:59:00Z")
    );
    assert_eq!(
        berlin.to_utc_millis(wall("2026-03-29 03:00:00")),
        ms("2026-03-29T01:00:00Z")
    );
    assert_eq!(
        berlin.to_utc_millis(wall("2026-10-25 02:30:00")),
        ms("2026-10-25T00:30:00Z")
    );
    assert_eq!(
        berlin.to_utc_millis(wall("2026-10-25 03:00:00")),
        ms("2026-10-25T02:00:00Z")
    );
    let london = Zone::parse("Europe/London").unwrap();
    assert_eq!(
        london.to_utc_millis(wall("2026-07-01 12:00:00")),
        ms("2026-07-01T11:00:00Z")
    );
    assert_eq!(Zone::parse("+05:30"), Some(Zone::Fixed(19_800)));
    assert_eq!(Zone::parse("-03:00"), Some(Zone::Fixed(-10_800)));
    assert_eq!(Zone::parse("Mars/Olympus"), None);
    assert_eq!(Zone::parse("+5"), None);

    let mut src = source();
    src.time_zone = "America/Chicago".into();
    let events = src.normalize(&delivery(&[], FORM_FILL)).unwrap();
    let EventBody::Touch(touch) = &events[0].body else {
        panic!()
    };
    assert_eq!(touch.occurred_at, ms("2018-03-07T20:28:16Z"));
    // An explicit offset wins over the zone.
    let body = FORM_FILL.replace("2018-03-07 14:28:16", "2018-03-07T14:28:16+01:00");
    let EventBody::Touch(touch) = &src.normalize(&delivery(&[], &body)).unwrap()[0].body else {
        panic!()
    };
    assert_eq!(touch.occurred_at, ms("2018-03-07T13:28:16Z"));
    src.time_zone = "Somewhere/Else".into();
    let (key, reason) = src.validate().unwrap_err();
    assert_eq!(key, "time_zone");
    assert!(reason.contains("America/Chicago"));
}

#[test]
fn an_empty_secret_is_refused_by_check_config() {
    let mut src = source();
    src.secret = Secret::new("");
    assert_eq!(src.validate().unwrap_err().0, "secret");
    assert_eq!(source().validate(), Ok(()));
}
