//! Pipedrive's settings, typing, answers and setup bodies, without a network.

use super::api::{
    describe, rate_wait, refused_despite_2xx, BURST_WINDOW, DAILY_PROBE, MAX_RESET_WAIT,
};
use super::fields::{accepts, find_field, typed, FieldsPage, PersonField};
use super::*;
use crate::fields::{self, sample_contact_fields, FieldKind, FieldValue, Recipient};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};
use std::time::Duration;

fn sink(config: Value) -> PipedriveSink {
    serde_json::from_value(config).unwrap()
}

fn token_sink() -> PipedriveSink {
    sink(json!({"base_url": "https://acme.pipedrive.com", "api_token": "t"}))
}

fn field(name: &str, field_type: &str, options: Value) -> PersonField {
    PersonField {
        key: format!("{:0>40.40}", hex::encode(name)),
        name: name.into(),
        field_type: field_type.into(),
        edit_flag: true,
        options,
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

#[test]
fn values_are_typed_for_the_field_they_go_to() {
    let trend = field(
        "Attention trend",
        "enum",
        json!([{"id": 31, "label": "rising"}, {"id": "32", "label": "Fading"}]),
    );
    assert_eq!(
        typed(&trend, &FieldValue::Text("rising".into())).unwrap(),
        json!(31)
    );
    assert_eq!(
        typed(&trend, &FieldValue::Text("fading".into())).unwrap(),
        json!(32)
    );
    assert!(typed(&trend, &FieldValue::Text("steady".into()))
        .unwrap_err()
        .contains("no option \"steady\""));
    let set = field("Trend set", "set", json!([{"id": 5, "label": "steady"}]));
    assert_eq!(
        typed(&set, &FieldValue::Text("steady".into())).unwrap(),
        json!([5])
    );

    let score = field("Attention score", "double", Value::Null);
    assert_eq!(typed(&score, &FieldValue::Number(57)).unwrap(), json!(57));
    assert_eq!(
        typed(&score, &FieldValue::Text("4.5".into())).unwrap(),
        json!(4.5)
    );

    let date = field("Attention last touch", "date", Value::Null);
    assert_eq!(
        typed(&date, &FieldValue::Time(Some(1_700_000_000_000))).unwrap(),
        json!("2023-11-14")
    );
    assert_eq!(typed(&date, &FieldValue::Time(None)).unwrap(), Value::Null);
    let as_text = field("Attention last touch", "varchar", Value::Null);
    assert_eq!(
        typed(&as_text, &FieldValue::Time(Some(1_700_000_000_000))).unwrap(),
        json!("2023-11-14T22:13:20.000Z")
    );

    let short = field("Attention reasons", "varchar", Value::Null);
    let long = FieldValue::List(vec!["x".repeat(200), "y".repeat(200)]);
    assert_eq!(
        typed(&short, &long)
            .unwrap()
            .as_str()
            .unwrap()
            .chars()
            .count(),
        255
    );
    let text = field("Attention reasons", "text", Value::Null);
    assert_eq!(typed(&text, &long).unwrap().as_str().unwrap().len(), 402);

    let user = field("Attention score", "user", Value::Null);
    assert!(typed(&user, &FieldValue::Number(1))
        .unwrap_err()
        .contains("`user`"));
}

#[test]
fn a_person_body_carries_every_field_under_its_key() {
    let fields = vec![
        (
            "score".to_string(),
            field("Attention score", "double", Value::Null),
        ),
        (
            "trend".to_string(),
            field(
                "Attention trend",
                "enum",
                json!([{"id": 7, "label": "rising"}]),
            ),
        ),
    ];
    let entry = OutboxEntry::for_contact(
        1,
        vec![Identity::crm("pipedrive", "8")],
        sample_contact_fields(),
        0,
    );
    let body = token_sink().body(&fields, &entry).unwrap();
    assert_eq!(
        body,
        json!({"custom_fields": {fields[0].1.key.clone(): 57, fields[1].1.key.clone(): 7}})
    );
}

#[test]
fn only_custom_fields_are_found_by_name() {
    let mut system = field("Name", "varchar", Value::Null);
    system.edit_flag = false;
    let custom = field("Attention Score", "double", Value::Null);
    let fields = vec![system, custom];
    assert!(find_field(&fields, "name").is_none());
    assert_eq!(
        find_field(&fields, " attention score").unwrap().field_type,
        "double"
    );
}

#[test]
fn only_numeric_pipedrive_ids_are_addressable() {
    let sink = token_sink();
    assert!(sink.addressable(&[Identity::email("a@b.c"), Identity::crm("pipedrive", "501")]));
    assert!(!sink.addressable(&[Identity::email("a@b.c")]));
    assert!(!sink.addressable(&[Identity::crm("hubspot", "501")]));
    assert!(!sink.addressable(&[Identity::crm("pipedrive", "lead-1")]));
    assert!(!sink.account_addressable("pipedrive-org:77"));
}

#[test]
fn rate_limit_headers_ask_for_a_pause_when_nearly_spent() {
    assert_eq!(
        rate_wait(
            200,
            &headers(&[
                ("x-ratelimit-limit", "20"),
                ("x-ratelimit-remaining", "15"),
                ("x-ratelimit-reset", "2")
            ])
        ),
        None
    );
    assert_eq!(
        rate_wait(
            200,
            &headers(&[
                ("x-ratelimit-limit", "20"),
                ("x-ratelimit-remaining", "2"),
                ("x-ratelimit-reset", "1.5")
            ])
        ),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        rate_wait(200, &headers(&[("x-ratelimit-remaining", "0")])),
        Some(BURST_WINDOW)
    );
    assert_eq!(
        rate_wait(
            200,
            &headers(&[
                ("x-ratelimit-remaining", "50"),
                ("x-daily-ratelimit-token-remaining", "0")
            ])
        ),
        Some(DAILY_PROBE)
    );
    assert_eq!(
        rate_wait(
            429,
            &headers(&[("retry-after", "3"), ("x-ratelimit-reset", "1")])
        ),
        Some(Duration::from_secs(3))
    );
    assert_eq!(
        rate_wait(429, &headers(&[("x-ratelimit-reset", "1")])),
        Some(Duration::from_secs(1))
    );
    assert_eq!(rate_wait(429, &HeaderMap::new()), Some(BURST_WINDOW));
    assert_eq!(
        rate_wait(
            200,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700000000")
            ])
        ),
        Some(MAX_RESET_WAIT)
    );
}

#[test]
fn pipedrive_error_bodies_give_their_message() {
    let body = r#"{"success":false,"error":"Person not found","error_info":"Please check developers.pipedrive.com","data":null,"additional_data":null}"#;
    assert_eq!(describe(404, body), "HTTP 404: Person not found");
    assert_eq!(
        describe(
            400,
            r#"{"success":false,"message":"Invalid grant: refresh token is invalid","error":"invalid_grant"}"#
        ),
        "HTTP 400: Invalid grant: refresh token is invalid"
    );
    assert_eq!(
        describe(403, "<html>blocked</html>"),
        "HTTP 403: <html>blocked</html>"
    );
    assert!(refused_despite_2xx(r#"{"success":true,"data":{}}"#).is_none());
    assert!(refused_despite_2xx(r#"{"success":false,"error":"nope"}"#)
        .unwrap()
        .contains("nope"));
}

#[test]
fn pagination_is_read_in_either_place() {
    let nested: FieldsPage = serde_json::from_value(json!({"data": [], "additional_data": {"pagination": {"start": 0, "limit": 2, "more_items_in_collection": true, "next_start": 2}}})).unwrap();
    assert_eq!(nested.next_start(0, 2), Some(2));
    let flat: FieldsPage = serde_json::from_value(json!({"data": [], "additional_data": {"start": 2, "limit": 2, "more_items_in_collection": true}})).unwrap();
    assert_eq!(flat.next_start(2, 2), Some(4));
    let last: FieldsPage = serde_json::from_value(
        json!({"data": [], "additional_data": {"pagination": {"more_items_in_collection": false}}}),
    )
    .unwrap();
    assert_eq!(last.next_start(4, 1), None);
}

#[test]
fn credentials_are_one_kind_and_complete() {
    let base = "https://acme.pipedrive.com";
    assert!(token_sink().validate().is_ok());
    let neither = sink(json!({"base_url": base}));
    assert_eq!(neither.validate().unwrap_err().0, "api_token");
    let both = sink(json!({"base_url": base, "api_token": "t", "access_token": "a"}));
    assert!(both.validate().unwrap_err().1.contains("not both"));
    let half = sink(json!({"base_url": base, "access_token": "a", "refresh_token": "r"}));
    assert_eq!(half.validate().unwrap_err().0, "refresh_token");
    let oauth = sink(
        json!({"base_url": base, "refresh_token": "r", "client_id": "c", "client_secret": "s"}),
    );
    assert!(oauth.validate().is_ok());
    let big = sink(json!({"base_url": base, "api_token": "t", "batch_size": 101}));
    assert_eq!(big.validate().unwrap_err().0, "batch_size");
    let unknown = sink(json!({"base_url": base, "api_token": "t", "fields": {"scroe": "x"}}));
    assert_eq!(unknown.validate().unwrap_err().0, "fields");
}

#[test]
fn the_default_rate_is_the_lowest_plan_for_the_kind_of_credential() {
    assert_eq!(
        token_sink().delivery.rate_limit,
        RateLimit {
            requests: 20,
            per_secs: 2.0
        }
    );
    let oauth = sink(json!({"base_url": "https://acme.pipedrive.com", "access_token": "a"}));
    assert_eq!(
        oauth.delivery.rate_limit,
        RateLimit {
            requests: 80,
            per_secs: 2.0
        }
    );
}

#[test]
fn setup_creates_typed_fields_named_for_reps() {
    let names = token_sink().names(Records::Contacts);
    assert_eq!(
        names.get("score").map(String::as_str),
        Some("Attention score")
    );
    assert_eq!(
        names.get("last_touch_at").map(String::as_str),
        Some("Attention last touch")
    );
    let trend = fields::spec(Records::Contacts, "trend").unwrap();
    assert_eq!(
        PipedriveSink::create_body(trend, "Attention trend"),
        json!({"name": "Attention trend", "field_type": "enum", "add_visible_flag": false,
               "options": [{"label": "rising"}, {"label": "steady"}, {"label": "fading"}]})
    );
    let last = fields::spec(Records::Contacts, "last_touch_at").unwrap();
    assert_eq!(PipedriveSink::create_body(last, "x")["field_type"], "date");
    assert!(accepts(
        FieldKind::Choice(fields::TRENDS),
        &field("t", "varchar", Value::Null)
    ));
    assert!(!accepts(
        FieldKind::Choice(fields::TRENDS),
        &field("t", "enum", json!([{"id": 1, "label": "rising"}]))
    ));
    assert!(!accepts(
        FieldKind::Number,
        &field("s", "date", Value::Null)
    ));
}
