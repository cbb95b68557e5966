//! Tests of the Segment source: the Webhooks destination's signature and the Tracking
//! API, with segment-docs' examples.

use super::*;
use crate::model::{EventBody, Identity, Touch};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

fn source() -> SegmentSource {
    SegmentSource {
        secret: Some(Secret::new("sharedsecret")),
        key: Some(Secret::new("abc123")),
        write_keys: vec![Secret::new("second-key")],
        events: BTreeMap::from([
            ("Webinar Joined".to_string(), "webinar_attended".to_string()),
            ("Email Opened".to_string(), "none".to_string()),
        ]),
        pages: vec![
            PageRule {
                path: "/pricing".into(),
                kind: "pricing_view".into(),
            },
            PageRule {
                path: "/docs/*/download*".into(),
                kind: "content_download".into(),
            },
        ],
        allowed_origins: vec![],
    }
}

const DESTINATION: &str = "https://attention.example.com/webhooks/segment";
const BATCH: &str = "https://attention.example.com/webhooks/segment/v1/batch?ignored=1";

fn delivery<'a>(url: &'a str, headers: &'a [(String, String)], body: &'a str) -> Delivery<'a> {
    Delivery {
        method: "POST",
        url,
        headers,
        body: body.as_bytes(),
    }
}

fn signature(body: &[u8]) -> Vec<(String, String)> {
    let mut mac = Hmac::<Sha1>::new_from_slice(b"sharedsecret").unwrap();
    mac.update(body);
    vec![(
        "X-Signature".into(),
        hex::encode(mac.finalize().into_bytes()),
    )]
}

#[test]
fn paths_pick_the_way_in() {
    assert_eq!(endpoint(DESTINATION), Endpoint::Destination);
    assert_eq!(
        endpoint("http://h/webhooks/segment/?x=1"),
        Endpoint::Destination
    );
    assert_eq!(endpoint(BATCH), Endpoint::Batch);
    assert_eq!(
        endpoint("http://h/base/webhooks/seg/v1/import"),
        Endpoint::Batch
    );
    assert_eq!(
        endpoint("http://h/webhooks/seg/v1/track"),
        Endpoint::Single("track")
    );
    assert_eq!(
        endpoint("http://h/webhooks/seg/v2/track"),
        Endpoint::Unknown("v2/track".into())
    );
    // analytics.js posts each call to the first letter of its type, and batches to
    // `/b`; the Swift and Kotlin libraries batch to `<apiHost>/b`.
    for (path, call) in [
        ("v1/t", "track"),
        ("v1/p", "page"),
        ("v1/i", "identify"),
        ("v1/g", "group"),
        ("v1/a", "alias"),
        ("v1/s", "screen"),
        ("t", "track"),
    ] {
        assert_eq!(
            endpoint(&format!("http://h/webhooks/seg/{path}")),
            Endpoint::Single(call),
            "{path}"
        );
    }
    for path in ["v1/b", "b", "batch"] {
        assert_eq!(
            endpoint(&format!("http://h/webhooks/seg/{path}")),
            Endpoint::Batch,
            "{path}"
        );
    }
    assert_eq!(
        endpoint("http://h/webhooks/seg/v1/x"),
        Endpoint::Unknown("v1/x".into())
    );
}

// Vector (computed) from VENDORS.md §7: secret `sharedsecret`, HMAC-SHA1 over the body,
// the algorithm of segment-docs webhooks/index.md "Authentication".
#[test]
fn the_documented_signature_verifies() {
    let body = r#"{"type":"track","event":"Signed Up"}"#;
    let headers = vec![(
        "X-Signature".to_string(),
        "72c9815d6048ea5c7c183e590cbd931dda3c7c73".to_string(),
    )];
    assert_eq!(
        source().verify(&delivery(DESTINATION, &headers, body), 0),
        Ok(())
    );
    assert_eq!(
        source().verify(
            &delivery(
                DESTINATION,
                &headers,
                r#"{"type":"track","event":"Signed Up!"}"#
            ),
            0
        ),
        Err(SourceError::InvalidSignature)
    );
    let mut wrong = source();
    wrong.secret = Some(Secret::new("other"));
    assert_eq!(
        wrong.verify(&delivery(DESTINATION, &headers, body), 0),
        Err(SourceError::InvalidSignature)
    );
    assert_eq!(
        source().verify(&delivery(DESTINATION, &[], body), 0),
        Err(SourceError::MissingHeader("x-signature"))
    );
    let junk = vec![("X-Signature".to_string(), "not-hex".to_string())];
    assert_eq!(
        source().verify(&delivery(DESTINATION, &junk, body), 0),
        Err(SourceError::InvalidSignature)
    );
    let mut unsigned = source();
    unsigned.secret = None;
    assert!(matches!(
        unsigned.verify(&delivery(DESTINATION, &headers, body), 0),
        Err(SourceError::BadCredentials(_))
    ));
}

// Webhooks (Actions) batches: the signature covers JSON.stringify(body[0]) only
// (action-destinations webhook.test.ts, "supports request signing with batched events").
#[test]
fn a_batched_destination_delivery_is_signed_over_its_first_event() {
    let first = r#"{"type":"page","anonymousId":"a1","messageId":"m1","timestamp":"2026-11-20T10:00:00Z","properties":{"path":"/pricing"}}"#;
    let body = format!(
        r#"[{first},{{"type":"page","anonymousId":"a2","messageId":"m2","timestamp":"2026-11-20T10:00:01Z"}}]"#
    );
    let headers = signature(first.as_bytes());
    assert_eq!(first_element(body.as_bytes()), Some(first.as_bytes()));
    assert_eq!(
        source().verify(&delivery(DESTINATION, &headers, &body), 0),
        Ok(())
    );
    let events = source()
        .normalize(&delivery(DESTINATION, &headers, &body))
        .unwrap();
    assert_eq!(events.len(), 2);
    let tampered = body.replace("\"a1\"", "\"a9\"");
    assert_eq!(
        source().verify(&delivery(DESTINATION, &headers, &tampered), 0),
        Err(SourceError::InvalidSignature)
    );
}

fn basic(key: &str) -> Vec<(String, String)> {
    vec![(
        "Authorization".into(),
        format!("Basic {}", STANDARD.encode(format!("{key}:"))),
    )]
}

// http-api/index.md "Basic authentication": `abc123:` → `Basic YWJjMTIzOg==`.
#[test]
fn write_keys_come_as_basic_auth_or_in_the_body() {
    let body = r#"{"batch":[]}"#;
    let documented = vec![(
        "Authorization".to_string(),
        "Basic YWJjMTIzOg==".to_string(),
    )];
    assert_eq!(
        source().verify(&delivery(BATCH, &documented, body), 0),
        Ok(())
    );
    assert_eq!(
        source().verify(&delivery(BATCH, &basic("second-key"), body), 0),
        Ok(())
    );
    let no_colon = vec![(
        "Authorization".to_string(),
        format!("Basic {}", STANDARD.encode("abc123")),
    )];
    assert_eq!(
        source().verify(&delivery(BATCH, &no_colon, body), 0),
        Ok(())
    );
    assert!(matches!(
        source().verify(&delivery(BATCH, &basic("abc124"), body), 0),
        Err(SourceError::BadCredentials(_))
    ));
    assert_eq!(
        source().verify(
            &delivery(BATCH, &[], r#"{"batch":[],"writeKey":"abc123"}"#),
            0
        ),
        Ok(())
    );
    assert!(matches!(
        source().verify(&delivery(BATCH, &[], r#"{"batch":[],"writeKey":"nope"}"#), 0),
        Err(SourceError::BadCredentials(r)) if r.contains("invalid")
    ));
    assert!(
        matches!(source().verify(&delivery(BATCH, &[], body), 0), Err(SourceError::BadCredentials(r)) if r.contains("missing"))
    );
    let mut none = source();
    none.key = None;
    none.write_keys.clear();
    assert!(matches!(
        none.verify(&delivery(BATCH, &basic("abc123"), body), 0),
        Err(SourceError::BadCredentials(_))
    ));
}

fn normalize(url: &str, body: &str) -> Result<Vec<Event>, SourceError> {
    source().normalize(&delivery(url, &[], body))
}

fn touch(event: &Event) -> &Touch {
    match &event.body {
        EventBody::Touch(touch) => touch,
        other => panic!("not a touch: {other:?}"),
    }
}

// The Page example of segment-docs webhooks/index.md, with an anonymous id.
#[test]
fn pages_follow_the_rules_in_order() {
    let page = r#"{"version":1,"type":"page","userId":"019mr8mf4r","anonymousId":"507f191e8","messageId":"ajs-1","properties":{"path":"/pricing","referrer":"https://segment.com","title":"Segment Pricing","url":"https://segment.com/pricing"},"timestamp":"2012-12-02T00:30:08.276Z"}"#;
    let events = normalize(DESTINATION, page).unwrap();
    let touch = touch(&events[0]);
    assert_eq!(events[0].provider_id, "ajs-1");
    assert_eq!(touch.kind, TouchKind::PricingView);
    assert_eq!(touch.occurred_at, 1_354_408_208_276);
    assert_eq!(
        touch.who,
        vec![
            Identity::Anonymous("507f191e8".into()),
            Identity::crm("segment", "019mr8mf4r")
        ]
    );
    assert_eq!(
        touch.properties.as_ref().unwrap()["title"],
        "Segment Pricing"
    );
    let kind = |path: &str| {
        let body = page.replace("\"/pricing\"", &format!("\"{path}\""));
        super::tests::touch(&normalize(DESTINATION, &body).unwrap()[0]).kind
    };
    assert_eq!(kind("/pricing/teams"), TouchKind::PricingView);
    assert_eq!(kind("/PRICING"), TouchKind::PricingView);
    assert_eq!(kind("/pricing-old"), TouchKind::PageView);
    assert_eq!(kind("/docs/api/download/v2"), TouchKind::ContentDownload);
    assert_eq!(kind("/blog"), TouchKind::PageView);
    // Without properties.path, the path of the URL counts.
    let by_url = r#"{"type":"screen","anonymousId":"x","timestamp":"2026-01-01T00:00:00Z","context":{"page":{"url":"https://a.example/pricing?plan=team"}}}"#;
    assert_eq!(
        super::tests::touch(&normalize(DESTINATION, by_url).unwrap()[0]).kind,
        TouchKind::PricingView
    );
}

#[test]
fn track_events_map_through_the_table() {
    let track = |name: &str| {
        let body = serde_json::json!({"type": "track", "event": name, "anonymousId": "a", "userId": "u1",
            "context": {"traits": {"email": "Ann@Example.com"}, "ip": "24.5.68.47", "groupId": "g1"},
            "originalTimestamp": "2026-11-20T10:00:00.000Z", "messageId": "m"})
        .to_string();
        normalize(DESTINATION, &body).unwrap()
    };
    let events = track("Demo Requested");
    let demo = touch(&events[0]);
    assert_eq!(demo.kind, TouchKind::DemoRequest);
    assert_eq!(
        demo.who,
        vec![
            Identity::Anonymous("a".into()),
            Identity::crm("segment", "u1"),
            Identity::email("ann@example.com")
        ]
    );
    assert_eq!(demo.account.as_deref(), Some("segment-group:g1"));
    assert_eq!(demo.occurred_at, 1_795_168_800_000);
    assert_eq!(demo.properties.as_ref().unwrap()["ip"], "24.5.68.47");
    assert_eq!(touch(&track("signed up")[0]).kind, TouchKind::TrialSignup);
    assert_eq!(
        touch(&track("Webinar Joined")[0]).kind,
        TouchKind::WebinarAttended
    );
    assert!(track("Email Opened").is_empty(), "switched off");
    assert!(track("Item Purchased").is_empty(), "unmapped");
}

// The Identify example of segment-docs http-api/index.md, with an anonymous id and
// reserved traits.
#[test]
fn identify_joins_identities_and_reads_traits() {
    let body = r#"{"userId":"019mr8mf4r","anonymousId":"anon-1","traits":{"email":"pgibbons@example.com","name":"Peter Gibbons","firstName":"Peter","last_name":"Gibbons","title":"Engineer","industry":"Technology","company":{"name":"Initech","employee_count":420},"address":{"country":"US","city":"Austin"},"phone":"555"},"context":{"ip":"24.5.68.47"},"timestamp":"2012-12-02T00:30:08.276Z","writeKey":"abc123","messageId":"id-1"}"#;
    let events = normalize("http://h/webhooks/segment/v1/identify", body).unwrap();
    let EventBody::Identify { who } = &events[0].body else {
        panic!()
    };
    assert_eq!(
        who,
        &vec![
            Identity::Anonymous("anon-1".into()),
            Identity::crm("segment", "019mr8mf4r"),
            Identity::email("pgibbons@example.com")
        ]
    );
    let EventBody::Profile(profile) = &events[1].body else {
        panic!()
    };
    assert_eq!(events[1].provider_id, "id-1:profile");
    let expected: BTreeMap<String, String> = [
        ("first_name", "Peter"),
        ("last_name", "Gibbons"),
        ("title", "Engineer"),
        ("company", "Initech"),
        ("industry", "Technology"),
        ("employees", "420"),
        ("country", "US"),
        ("city", "Austin"),
        ("phone", "555"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(profile.fields, expected);
}

// The Group and Alias examples of segment-docs http-api/index.md.
#[test]
fn groups_set_the_account_and_aliases_join_ids() {
    let group = r#"{"userId":"019mr8mf4r","groupId":"8e9df332ac","traits":{"name":"Initech","industry":"Technology","employees":420},"timestamp":"2012-12-02T00:31:38.208Z","writeKey":"YOUR_WRITE_KEY"}"#;
    let events = normalize("http://h/webhooks/segment/v1/group", group).unwrap();
    let EventBody::Profile(profile) = &events[0].body else {
        panic!()
    };
    assert_eq!(profile.account.as_deref(), Some("segment-group:8e9df332ac"));
    assert_eq!(profile.fields["company"], "Initech");
    assert_eq!(profile.fields["employees"], "420");
    assert!(
        events[0].provider_id.starts_with("derived:"),
        "no messageId: {}",
        events[0].provider_id
    );
    // Without messageId the id is stable, and ignores sentAt.
    let again = group.replace(
        "\"writeKey\"",
        "\"sentAt\":\"2026-01-01T00:00:00Z\",\"writeKey\"",
    );
    assert_eq!(
        normalize("http://h/webhooks/segment/v1/group", &again).unwrap()[0].provider_id,
        events[0].provider_id
    );

    let alias = r#"{"previousId":"39239-239239-239239-23923","userId":"019mr8mf4r","timestamp":"2012-12-02T00:31:29.738Z","writeKey":"YOUR_WRITE_KEY"}"#;
    let events = normalize("http://h/webhooks/segment/v1/alias", alias).unwrap();
    let EventBody::Identify { who } = &events[0].body else {
        panic!()
    };
    assert_eq!(
        who,
        &vec![
            Identity::crm("segment", "019mr8mf4r"),
            Identity::crm("segment", "39239-239239-239239-23923"),
            Identity::Anonymous("39239-239239-239239-23923".into())
        ]
    );
}

// The Delete example of segment-docs webhooks/index.md.
#[test]
fn deletions_erase_only_through_the_signed_destination() {
    let delete =
        r#"{"type":"delete","userId":"019mr8mf4r","timestamp":"2012-12-02T00:30:08.276Z"}"#;
    let events = normalize(DESTINATION, delete).unwrap();
    assert_eq!(
        events[0].body,
        EventBody::Erase {
            who: Identity::crm("segment", "019mr8mf4r")
        }
    );
    let batch = format!(r#"{{"batch":[{delete}]}}"#);
    assert!(normalize(BATCH, &batch).unwrap().is_empty());
}

// The Batch example of segment-docs http-api/index.md (its "2015-2-02" times are not
// ISO 8601, so those messages fall back to the batch's sentAt).
#[test]
fn a_batch_merges_its_context_and_times() {
    let body = r#"{"batch":[{"type":"identify","userId":"019mr8mf4r","traits":{"email":"jake@yahoo.com","name":"Jake Peterson","age":26},"timestamp":"2012-12-02T00:30:08.276Z"},{"type":"track","userId":"019mr8mf4r","event":"Signed Up","properties":{"name":"Fallin for You"},"timestamp":"2012-12-02T00:30:12.984Z"},{"type":"page","userId":"971mj8mk7p","timestamp":"2015-2-02T00:30:12.984Z"}],"sentAt":"2015-02-02T00:31:00Z","writeKey":"YOUR_WRITE_KEY","context":{"device":{"type":"phone","name":"Apple iPhone 6"},"traits":{"email":"cindy@example.com"}}}"#;
    let events = normalize(BATCH, body).unwrap();
    let EventBody::Identify { who } = &events[0].body else {
        panic!("{:?}", events[0])
    };
    assert_eq!(
        who,
        &vec![
            Identity::crm("segment", "019mr8mf4r"),
            Identity::email("jake@yahoo.com"),
            Identity::email("cindy@example.com")
        ]
    );
    assert_eq!(touch(&events[1]).kind, TouchKind::TrialSignup);
    let page = touch(&events[2]);
    assert_eq!(page.occurred_at, 1_422_837_060_000);
    assert_eq!(
        page.who,
        vec![
            Identity::crm("segment", "971mj8mk7p"),
            Identity::email("cindy@example.com")
        ]
    );
    // Messages with no one to attribute are skipped.
    assert!(normalize(
        BATCH,
        r#"{"batch":[{"type":"page","timestamp":"2026-01-01T00:00:00Z"}]}"#
    )
    .unwrap()
    .is_empty());
}

#[test]
fn sizes_are_limited_like_segment() {
    let big = "x".repeat(MAX_MESSAGE_BYTES);
    let single = format!(
        r#"{{"anonymousId":"a","timestamp":"2026-01-01T00:00:00Z","properties":{{"pad":"{big}"}}}}"#
    );
    assert!(
        matches!(normalize("http://h/webhooks/s/v1/page", &single), Err(SourceError::Malformed(r)) if r.starts_with("Exceed payload limit"))
    );
    let batch = format!(
        r#"{{"batch":[{}]}}"#,
        single.replace("{\"anonymousId\"", "{\"type\":\"page\",\"anonymousId\"")
    );
    assert!(
        matches!(normalize(BATCH, &batch), Err(SourceError::Malformed(r)) if r.contains("batch[0]"))
    );
    let small = r#"{"type":"page","anonymousId":"a","timestamp":"2026-01-01T00:00:00Z","properties":{"pad":"PAD"}}"#.replace("PAD", &"y".repeat(30_000));
    let huge = format!(r#"{{"batch":[{}]}}"#, vec![small; 18].join(","));
    assert!(huge.len() > MAX_BATCH_BYTES);
    assert!(
        matches!(normalize(BATCH, &huge), Err(SourceError::Malformed(r)) if r.contains("bytes, at most 512000"))
    );
}

#[test]
fn malformed_payloads_say_why() {
    assert!(
        matches!(normalize(DESTINATION, "{"), Err(SourceError::Malformed(r)) if r.contains("not a Segment event"))
    );
    assert!(
        matches!(normalize(DESTINATION, "3"), Err(SourceError::Malformed(r)) if r.contains("object or array"))
    );
    assert!(
        matches!(normalize(DESTINATION, r#"{"userId":"u"}"#), Err(SourceError::Malformed(r)) if r.contains("body.type"))
    );
    assert!(
        matches!(normalize(DESTINATION, r#"[{"type":"page","userId":"u"}]"#), Err(SourceError::Malformed(r)) if r.contains("[0]: no readable time"))
    );
    assert!(
        matches!(normalize(BATCH, r#"{"batch":{}}"#), Err(SourceError::Malformed(r)) if r.contains("`batch`"))
    );
    assert!(
        matches!(normalize(BATCH, r#"{"batch":[1]}"#), Err(SourceError::Malformed(r)) if r.contains("batch[0] is not a JSON object"))
    );
    assert!(
        matches!(normalize("http://h/webhooks/s/v1/nope", "{}"), Err(SourceError::Malformed(r)) if r.contains("/v1/nope"))
    );
}

#[test]
fn refusals_and_acknowledgements_speak_segment() {
    let ack = source().acknowledgement().unwrap();
    assert_eq!(ack.body, br#"{"success":true}"#);
    let refusal = source()
        .refusal(&SourceError::malformed("Exceed payload limit: x"))
        .unwrap();
    assert_eq!(refusal.status, 400);
    let body: Value = serde_json::from_slice(&refusal.body).unwrap();
    assert_eq!(body["code"], "payload_too_large");
    let refusal = source()
        .refusal(&SourceError::BadCredentials("invalid write key".into()))
        .unwrap();
    assert_eq!(refusal.status, 401);
    assert_eq!(
        serde_json::from_slice::<Value>(&refusal.body).unwrap()["message"],
        "invalid write key"
    );
}

#[test]
fn validation_names_the_key() {
    assert_eq!(source().validate(), Ok(()));
    let mut bad = source();
    bad.events.insert("X".into(), "demo".into());
    let (key, message) = bad.validate().unwrap_err();
    assert_eq!(key, "events.X");
    assert!(message.contains("demo_request"), "{message}");
    let mut bad = source();
    bad.pages.push(PageRule {
        path: "pricing".into(),
        kind: "pricing_view".into(),
    });
    assert_eq!(bad.validate().unwrap_err().0, "pages[2].path");
    let mut bad = source();
    bad.pages[0].kind = "pricing".into();
    assert_eq!(bad.validate().unwrap_err().0, "pages[0].kind");
    let bare = SegmentSource {
        secret: None,
        key: None,
        write_keys: vec![],
        events: BTreeMap::new(),
        pages: default_pages(),
        allowed_origins: vec![],
    };
    assert_eq!(bare.validate().unwrap_err().0, "secret");
    let mut origins = source();
    origins.allowed_origins = vec![
        "https://www.example.com".into(),
        "http://localhost:8080".into(),
        "*".into(),
    ];
    assert_eq!(origins.validate(), Ok(()));
    for wrong in [
        "https://www.example.com/",
        "www.example.com",
        "ftp://example.com",
        "https://",
    ] {
        origins.allowed_origins = vec!["*".into(), wrong.into()];
        assert_eq!(
            origins.validate().unwrap_err().0,
            "allowed_origins[1]",
            "{wrong}"
        );
    }
}
