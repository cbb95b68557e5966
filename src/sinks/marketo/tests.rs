//! Marketo's settings, bodies, answers and setup steps, without a network.

use super::api::{quota_wait, CallError, MarketoError, CONCURRENCY_WAIT, QUOTA_PROBE};
use super::setup::manual;
use super::write::{fit_string_field, per_record};
use super::*;
use crate::fields::sample_contact_fields;
use std::time::Duration;

fn entry(identities: Vec<Identity>) -> OutboxEntry {
    OutboxEntry::for_contact(1, identities, sample_contact_fields(), 0)
}

fn sink() -> MarketoSink {
    serde_json::from_value(serde_json::json!({
        "base_url": "https://123-ABC-456.mktorest.com/rest/", "client_id": "id", "client_secret": "s"
    }))
    .unwrap()
}

#[test]
fn reasons_longer_than_a_string_field_are_cut_between_phrases() {
    let phrase = "a".repeat(100);
    let long = format!("{phrase}; {phrase}; {phrase}");
    let cut = fit_string_field(serde_json::Value::String(long));
    assert_eq!(
        cut,
        serde_json::Value::String(format!("{phrase}; {phrase}"))
    );
    let short = serde_json::json!("form submit today");
    assert_eq!(fit_string_field(short.clone()), short);
    assert_eq!(
        fit_string_field(serde_json::json!(57)),
        serde_json::json!(57)
    );
}

#[test]
fn default_names_are_camel_case_api_names() {
    let names = sink().names(Records::Contacts);
    let values: Vec<&str> = names.values().map(String::as_str).collect();
    assert_eq!(
        values,
        vec![
            "attentionFitGrade",
            "attentionLastTouchAt",
            "attentionMatrix",
            "attentionQualificationStage",
            "attentionReasons",
            "attentionScore",
            "attentionStageChangedAt",
            "attentionTrend",
            "attentionVelocity"
        ]
    );
}

#[test]
fn leads_with_a_marketo_id_go_by_id_the_others_by_email() {
    let bodies = sink().bodies(&[
        entry(vec![Identity::email("a@b.c")]),
        entry(vec![
            Identity::email("x@y.z"),
            Identity::crm("marketo", "1001"),
        ]),
        entry(vec![Identity::Anonymous("v".into())]),
        entry(vec![Identity::email("d@e.f")]),
    ]);
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0].0, vec![1]);
    assert_eq!(
        bodies[0].1,
        serde_json::json!({"action": "updateOnly", "lookupField": "id", "input": [
            {"id": 1001, "attentionScore": 57, "attentionTrend": "rising",
             "attentionReasons": "form submit today; 3 email clicks this week",
             "attentionLastTouchAt": "2023-11-14T22:13:20.000Z"}
        ]})
    );
    assert_eq!(bodies[1].0, vec![0, 3]);
    assert_eq!(bodies[1].1["lookupField"], "email");
    assert_eq!(bodies[1].1["input"][1]["email"], "d@e.f");
}

#[test]
fn configured_names_replace_the_defaults_and_empty_leaves_a_field_out() {
    let sink: MarketoSink = serde_json::from_value(serde_json::json!({
        "base_url": "https://123-ABC-456.mktorest.com", "client_id": "id", "client_secret": "s",
        "fields": {"score": "engagementScore", "reasons": ""}
    }))
    .unwrap();
    let bodies = sink.bodies(&[entry(vec![Identity::email("a@b.c")])]);
    let input = bodies[0].1["input"][0].as_object().unwrap();
    assert_eq!(input["engagementScore"], 57);
    assert!(!input.contains_key("attentionScore") && !input.contains_key("attentionReasons"));
    assert!(input.contains_key("attentionTrend"));
}

#[test]
fn the_rest_suffix_of_the_endpoint_is_not_doubled() {
    let sink = sink();
    assert_eq!(
        sink.crm.url("/rest/v1/leads.json"),
        "https://123-ABC-456.mktorest.com/rest/v1/leads.json"
    );
    assert_eq!(
        sink.crm.token_url(),
        "https://123-ABC-456.mktorest.com/identity/oauth/token"
    );
}

// Record-level shape: error-codes.md "Record-Level" (status skipped, reasons[]).
#[test]
fn skipped_leads_carry_marketos_code_and_message() {
    let mut errors = vec![Some("unset".to_string()); 3];
    let results: Vec<serde_json::Value> = serde_json::from_value(serde_json::json!([
        {"id": 50, "status": "updated"},
        {"status": "skipped", "reasons": [{"code": "1004", "message": "Lead not found"}]},
    ]))
    .unwrap();
    per_record(&[2, 0, 1], &results, &mut errors);
    assert_eq!(errors[2], None);
    assert_eq!(errors[0].as_deref(), Some("1004 Lead not found"));
    assert!(errors[1].as_deref().unwrap().contains("no result"));
}

#[test]
fn limits_in_a_200_body_are_transient_with_a_wait() {
    let sink = sink();
    let wait = |code: &str| match sink.outcome(CallError::Marketo(MarketoError {
        code: code.into(),
        message: "m".into(),
    })) {
        Outcome::Transient {
            retry_after,
            status,
            ..
        } => {
            assert_eq!(status, code.parse().ok());
            retry_after
        }
        other => panic!("{code}: {other:?}"),
    };
    assert_eq!(wait("606"), Some(Duration::from_millis(2500)));
    assert_eq!(wait("615"), Some(CONCURRENCY_WAIT));
    assert!(wait("607").is_some_and(|wait| wait <= QUOTA_PROBE));
    assert_eq!(wait("603"), None);
    match sink.outcome(CallError::Marketo(MarketoError {
        code: "609".into(),
        message: "Invalid JSON".into(),
    })) {
        Outcome::Rejected { status, error } => {
            assert_eq!((status, error.as_str()), (609, "609 Invalid JSON"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        sink.outcome(CallError::Http {
            status: 413,
            retry_after: None,
            body: String::new()
        }),
        Outcome::Rejected { status: 413, .. }
    ));
    assert!(matches!(
        sink.outcome(CallError::Http {
            status: 503,
            retry_after: None,
            body: String::new()
        }),
        Outcome::Transient {
            status: Some(503),
            ..
        }
    ));
}

#[test]
fn the_daily_quota_is_waited_out_until_midnight_central_at_most_an_hour() {
    // 05:30 UTC: the reset at 06:00 UTC is 30 min (+1 min) away.
    let half_past_five =
        1_700_000_000_000 - (1_700_000_000_000 % 86_400_000) + 5 * 3_600_000 + 30 * 60_000;
    assert_eq!(quota_wait(half_past_five), Duration::from_secs(31 * 60));
    assert_eq!(quota_wait(half_past_five + 3_600_000), QUOTA_PROBE);
}

#[test]
fn more_than_ten_calls_in_flight_is_refused() {
    let mut sink = sink();
    sink.delivery.concurrency = 11;
    assert_eq!(sink.validate().unwrap_err().0, "concurrency");
}

#[test]
fn the_click_path_names_the_type_and_the_api_name() {
    let mut setup = Setup::new(false);
    let spec = crate::fields::spec(Records::Contacts, "last_touch_at").unwrap();
    manual(&mut setup, &[(spec, "attentionLastTouchAt".into())]);
    let line = setup.steps[0].to_string();
    assert!(
        line.contains("Admin → Field Management → New Custom Field")
            && line.contains("Type: Datetime")
            && line.contains("API Name: attentionLastTouchAt"),
        "{line}"
    );
}
