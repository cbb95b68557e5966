//! Tests of the Mailchimp source: the URL key, the validator's GET, and each audience
//! event.

use super::*;

const KEY: &str = "s3cr3t-k3y";
const URL: &str = "https://attention.example.com/webhooks/mailchimp?key=s3cr3t-k3y";

fn source() -> MailchimpSource {
    MailchimpSource {
        key: Secret::new(KEY),
        subscribe_kind: default_subscribe_kind(),
        merge_fields: BTreeMap::new(),
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        serializer.append_pair(key, value);
    }
    serializer.finish()
}

fn delivery<'a>(method: &'a str, url: &'a str, body: &'a str) -> Delivery<'a> {
    Delivery {
        method,
        url,
        headers: &[],
        body: body.as_bytes(),
    }
}

// Sample data of Mailchimp's "About Webhooks" guide (apidocs.mailchimp.com/webhooks,
// later developer.mailchimp.com/documentation/mailchimp/guides/about-webhooks/).
const SUBSCRIBE: &[(&str, &str)] = &[
    ("type", "subscribe"),
    ("fired_at", "2009-03-26 21:35:57"),
    ("data[id]", "8a25ff1d98"),
    ("data[list_id]", "a6b5da1054"),
    ("data[email]", "api@mailchimp.com"),
    ("data[email_type]", "html"),
    ("data[merges][EMAIL]", "api@mailchimp.com"),
    ("data[merges][FNAME]", "Mailchimp"),
    ("data[merges][LNAME]", "API"),
    ("data[merges][INTERESTS]", "Group1,Group2"),
    ("data[ip_opt]", "10.20.10.30"),
    ("data[ip_signup]", "10.20.10.30"),
];
// Same guide. It lists `data[reason]` twice; the later value wins, as in PHP.
const UNSUBSCRIBE: &[(&str, &str)] = &[
    ("type", "unsubscribe"),
    ("fired_at", "2009-03-26 21:40:57"),
    ("data[action]", "unsub"),
    ("data[reason]", "manual"),
    ("data[id]", "8a25ff1d98"),
    ("data[list_id]", "a6b5da1054"),
    ("data[email]", "api+unsub@mailchimp.com"),
    ("data[email_type]", "html"),
    ("data[merges][EMAIL]", "api+unsub@mailchimp.com"),
    ("data[merges][FNAME]", "Mailchimp"),
    ("data[merges][LNAME]", "API"),
    ("data[merges][INTERESTS]", "Group1,Group2"),
    ("data[ip_opt]", "10.20.10.30"),
    ("data[campaign_id]", "cb398d21d2"),
    ("data[reason]", "hard"),
];
const PROFILE: &[(&str, &str)] = &[
    ("type", "profile"),
    ("fired_at", "2009-03-26 21:31:21"),
    ("data[id]", "8a25ff1d98"),
    ("data[list_id]", "a6b5da1054"),
    ("data[email]", "api@mailchimp.com"),
    ("data[email_type]", "html"),
    ("data[merges][EMAIL]", "api@mailchimp.com"),
    ("data[merges][FNAME]", "Mailchimp"),
    ("data[merges][LNAME]", "API"),
    ("data[merges][INTERESTS]", "Group1,Group2"),
    ("data[ip_opt]", "10.20.10.30"),
];
const UPEMAIL: &[(&str, &str)] = &[
    ("type", "upemail"),
    ("fired_at", "2009-03-26 22:15:09"),
    ("data[list_id]", "a6b5da1054"),
    ("data[new_id]", "51da8c3259"),
    ("data[new_email]", "api+new@mailchimp.com"),
    ("data[old_email]", "api+old@mailchimp.com"),
];
const CLEANED: &[(&str, &str)] = &[
    ("type", "cleaned"),
    ("fired_at", "2009-03-26 22:01:00"),
    ("data[list_id]", "a6b5da1054"),
    ("data[campaign_id]", "4fjk2ma9xd"),
    ("data[reason]", "hard"),
    ("data[email]", "api+cleaned@mailchimp.com"),
];
const CAMPAIGN: &[(&str, &str)] = &[
    ("type", "campaign"),
    ("fired_at", "2009-03-26 21:31:21"),
    ("data[id]", "5aa2102003"),
    ("data[subject]", "Test Campaign Subject"),
    ("data[status]", "sent"),
    ("data[reason]", ""),
    ("data[list_id]", "a6b5da1054"),
];

fn normalize_with(
    src: &MailchimpSource,
    pairs: &[(&str, &str)],
) -> Result<Vec<Event>, SourceError> {
    let body = form(pairs);
    src.normalize(&delivery("POST", URL, &body))
}

fn normalize(pairs: &[(&str, &str)]) -> Result<Vec<Event>, SourceError> {
    normalize_with(&source(), pairs)
}

fn at(text: &str) -> Millis {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_millis()
}

#[test]
fn the_url_key_decides() {
    let body = form(SUBSCRIBE);
    assert_eq!(source().verify(&delivery("POST", URL, &body), 0), Ok(()));
    let other = "https://attention.example.com/webhooks/mailchimp?list=1&key=s3cr3t-k3y";
    assert_eq!(source().verify(&delivery("POST", other, &body), 0), Ok(()));
    let wrong = "https://attention.example.com/webhooks/mailchimp?key=s3cr3t-k3z";
    assert_eq!(
        source().verify(&delivery("POST", wrong, &body), 0),
        Err(SourceError::BadCredentials(
            "wrong `key` in the webhook URL".into()
        ))
    );
    let missing = "https://attention.example.com/webhooks/mailchimp";
    assert_eq!(
        source().verify(&delivery("POST", missing, &body), 0),
        Err(SourceError::BadCredentials(
            "missing `key` in the webhook URL".into()
        ))
    );
    assert_eq!(SourceError::BadCredentials(String::new()).status(), 401);
    // Percent-encoded keys are compared decoded.
    let src = MailchimpSource {
        key: Secret::new("a b/c"),
        ..source()
    };
    assert_eq!(
        src.verify(
            &delivery("POST", "https://x/webhooks/m?key=a+b%2Fc", &body),
            0
        ),
        Ok(())
    );
}

#[test]
fn the_validator_get_is_answered_only_with_the_key() {
    let src = source();
    let ok = src.probe(&delivery("GET", URL, ""), 0).unwrap().unwrap();
    assert_eq!((ok.status, ok.body.len()), (200, 0));
    assert!(src.probe(&delivery("HEAD", URL, ""), 0).unwrap().is_ok());
    assert!(matches!(
        src.probe(
            &delivery("GET", "https://x/webhooks/mailchimp?key=nope", ""),
            0
        ),
        Some(Err(SourceError::BadCredentials(_)))
    ));
    assert!(src.probe(&delivery("POST", URL, ""), 0).is_none());
}

#[test]
fn a_subscribe_is_a_touch_and_a_profile() {
    let events = normalize(SUBSCRIBE).unwrap();
    assert_eq!(events.len(), 2);
    let EventBody::Touch(touch) = &events[0].body else {
        panic!("{events:?}")
    };
    assert_eq!(touch.kind, TouchKind::FormSubmit);
    assert_eq!(touch.who, vec![Identity::email("api@mailchimp.com")]);
    assert_eq!(touch.occurred_at, at("2009-03-26T21:35:57Z"));
    let properties = touch.properties.as_ref().unwrap();
    assert_eq!(properties["list_id"], "a6b5da1054");
    assert_eq!(properties["mailchimp_id"], "8a25ff1d98");
    assert_eq!(properties["ip_signup"], "10.20.10.30");
    let EventBody::Profile(profile) = &events[1].body else {
        panic!("{events:?}")
    };
    assert_eq!(profile.who, vec![Identity::email("api@mailchimp.com")]);
    assert_eq!(
        profile.fields.get("first_name").map(String::as_str),
        Some("Mailchimp")
    );
    assert_eq!(
        profile.fields.get("last_name").map(String::as_str),
        Some("API")
    );
    assert_eq!(
        profile.fields.len(),
        2,
        "EMAIL and INTERESTS are not profile fields"
    );
    assert_eq!(profile.occurred_at, at("2009-03-26T21:35:57Z"));
    // The id is the hash of the body, so a resend gets the same ids.
    assert_eq!(
        events[0].provider_id,
        hex::encode(Sha256::digest(form(SUBSCRIBE).as_bytes()))
    );
    assert_eq!(
        events[1].provider_id,
        format!("{}:profile", events[0].provider_id)
    );
    assert_eq!(normalize(SUBSCRIBE).unwrap(), events);
}

#[test]
fn the_subscribe_kind_is_configurable() {
    let src = MailchimpSource {
        subscribe_kind: "trial_signup".into(),
        ..source()
    };
    let events = normalize_with(&src, SUBSCRIBE).unwrap();
    assert!(matches!(&events[0].body, EventBody::Touch(t) if t.kind == TouchKind::TrialSignup));
    let src = MailchimpSource {
        subscribe_kind: "none".into(),
        ..source()
    };
    let events = normalize_with(&src, SUBSCRIBE).unwrap();
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0].body, EventBody::Profile(_)));
    let src = MailchimpSource {
        subscribe_kind: "newsletter".into(),
        ..source()
    };
    let (key, reason) = src.validate().unwrap_err();
    assert_eq!(key, "subscribe_kind");
    assert!(reason.contains("form_submit"), "{reason}");
}

#[test]
fn an_unsubscribe_is_a_negative_touch() {
    let events = normalize(UNSUBSCRIBE).unwrap();
    assert_eq!(events.len(), 1);
    let EventBody::Touch(touch) = &events[0].body else {
        panic!()
    };
    assert_eq!(touch.kind, TouchKind::Unsubscribe);
    assert_eq!(touch.who, vec![Identity::email("api+unsub@mailchimp.com")]);
    assert_eq!(touch.occurred_at, at("2009-03-26T21:40:57Z"));
    let properties = touch.properties.as_ref().unwrap();
    assert_eq!(properties["action"], "unsub");
    assert_eq!(properties["reason"], "hard");
    assert_eq!(properties["campaign_id"], "cb398d21d2");
}

#[test]
fn a_cleaned_address_is_a_hard_bounce_with_its_reason() {
    let events = normalize(CLEANED).unwrap();
    let EventBody::Touch(touch) = &events[0].body else {
        panic!()
    };
    assert_eq!(touch.kind, TouchKind::HardBounce);
    assert_eq!(
        touch.who,
        vec![Identity::email("api+cleaned@mailchimp.com")]
    );
    assert_eq!(touch.occurred_at, at("2009-03-26T22:01:00Z"));
    assert_eq!(touch.properties.as_ref().unwrap()["reason"], "hard");
    assert_eq!(
        touch.properties.as_ref().unwrap()["campaign_id"],
        "4fjk2ma9xd"
    );
}

#[test]
fn an_email_change_links_both_addresses() {
    let events = normalize(UPEMAIL).unwrap();
    assert_eq!(
        events[0].body,
        EventBody::Identify {
            who: vec![
                Identity::email("api+old@mailchimp.com"),
                Identity::email("api+new@mailchimp.com")
            ]
        }
    );
}

#[test]
fn a_profile_update_maps_merge_fields() {
    let events = normalize(PROFILE).unwrap();
    assert_eq!(events.len(), 1);
    let EventBody::Profile(profile) = &events[0].body else {
        panic!()
    };
    assert_eq!(profile.occurred_at, at("2009-03-26T21:31:21Z"));
    assert_eq!(profile.fields.len(), 2);

    let mut src = source();
    src.merge_fields.insert("LNAME".into(), "none".into());
    src.merge_fields
        .insert("INTERESTS".into(), "lead_source".into());
    src.merge_fields.insert("ROLE".into(), "title".into());
    let mut pairs = PROFILE.to_vec();
    pairs.extend([
        ("data[merges][ROLE]", "CTO"),
        ("data[merges][COMPANY]", "Acme"),
        ("data[merges][PHONE]", ""),
        ("data[merges][ADDRESS][city]", "Atlanta"),
        ("data[merges][ADDRESS][country]", "US"),
    ]);
    let events = normalize_with(&src, &pairs).unwrap();
    let EventBody::Profile(profile) = &events[0].body else {
        panic!()
    };
    let fields: Vec<(&str, &str)> = profile
        .fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("city", "Atlanta"),
            ("company", "Acme"),
            ("country", "US"),
            ("first_name", "Mailchimp"),
            ("lead_source", "Group1,Group2"),
            ("title", "CTO"),
        ]
    );
    src.merge_fields.insert("X".into(), " ".into());
    assert_eq!(src.validate().unwrap_err().0, "merge_fields.X");
}

#[test]
fn a_profile_without_mapped_fields_is_ignored() {
    let pairs: Vec<_> = PROFILE
        .iter()
        .copied()
        .filter(|(k, _)| !k.contains("NAME"))
        .collect();
    assert_eq!(normalize(&pairs).unwrap(), vec![]);
}

#[test]
fn campaign_and_unknown_types_are_ignored() {
    assert_eq!(normalize(CAMPAIGN).unwrap(), vec![]);
    assert_eq!(
        normalize(&[
            ("type", "something_new"),
            ("fired_at", "2024-01-01 00:00:00")
        ])
        .unwrap(),
        vec![]
    );
}

#[test]
fn malformed_deliveries_name_the_field() {
    let reason = |pairs: &[(&str, &str)]| match normalize(pairs) {
        Err(SourceError::Malformed(reason)) => reason,
        other => panic!("{other:?}"),
    };
    assert!(reason(&[("fired_at", "2009-03-26 21:35:57")]).contains("`type`"));
    assert!(reason(&[("type", "subscribe")]).contains("`fired_at`"));
    assert!(
        reason(&[("type", "subscribe"), ("fired_at", "2009-03-26T21:35:57Z")]).contains("fired_at")
    );
    assert!(
        reason(&[("type", "subscribe"), ("fired_at", "2009-03-26 21:35:57")])
            .contains("data[email]")
    );
    assert!(reason(&[
        ("type", "cleaned"),
        ("fired_at", "2009-03-26 21:35:57"),
        ("data[email]", "nobody")
    ])
    .contains("not an email address"));
    assert!(reason(&UPEMAIL[..5]).contains("data[old_email]"));
    // Not a form at all.
    let src = source();
    let error = src
        .normalize(&delivery("POST", URL, r#"{"type":"subscribe"}"#))
        .unwrap_err();
    assert!(
        matches!(error, SourceError::Malformed(ref r) if r.contains("`type`")),
        "{error:?}"
    );
}

#[test]
fn an_empty_key_is_refused() {
    let src = MailchimpSource {
        key: Secret::new(""),
        ..source()
    };
    assert_eq!(src.validate().unwrap_err().0, "key");
    assert_eq!(source().validate(), Ok(()));
}
